/**
 * Bundles the compiled command line (dist/cli/start.js) into one CommonJS file, dist/bundle/sixchat.cjs,
 * and warms its V8 code cache (`npm run build` runs this after tsc; issue 13, DECISIONS.md "Start-up of
 * the command line"). `dist/main.js` runs the bundle through `cli/bundled.ts` when it exists.
 *
 * One file, not one chunk per command: esbuild splits code only for ES modules, and Node 20 caches
 * compiled code only for scripts (`vm.Script`). The per-command dynamic imports of `cli/app.ts` stay
 * lazy in it: esbuild wraps each command's modules in a function that runs when the command is loaded.
 *
 * Our modules import effect through its index (`import { Effect, Schema } from "effect"`). In this
 * bundle every module is wrapped (that is what keeps commands lazy), and a wrapped index runs all of
 * effect's 175 modules when first imported: the bundle imports each module from its own path instead
 * (`import * as Schema from "effect/Schema"`), which cuts a fifth of the CPU time of `sixchat send`.
 *
 * Native and CommonJS-only storage drivers stay outside (loaded from node_modules when a command
 * opens storage). fast-check is reached only through effect/Schema's `Arbitrary` support, which builds
 * property-test generators and which the command line never calls: the bundle replaces it with an
 * empty module.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { build, type Plugin } from "esbuild"
import { BUNDLE, CODE_CACHE } from "../bundled.js"

const withoutFastCheck: Plugin = {
  name: "without-fast-check",
  setup: (b) => {
    b.onResolve({ filter: /^fast-check$/ }, () => ({ path: "fast-check", namespace: "sixchat-empty" }))
    b.onLoad({ filter: /.*/, namespace: "sixchat-empty" }, () => ({ contents: "export {}", loader: "js" }))
  }
}

/** The module each name of effect's index comes from (`Schema` → `effect/Schema`, `pipe` → `effect/Function`). */
const effectIndex = (): ReadonlyMap<string, string> => {
  const index = readFileSync(fileURLToPath(import.meta.resolve("effect")), "utf8")
  const modules = [...index.matchAll(/^export \* as (\w+) from "\.\/(\w+)\.js";$/gm)].map(
    (m): readonly [string, string] => [m[1] ?? "", `effect/${m[2]}`]
  )
  const functions = /export \{([^}]*)\} from "\.\/Function\.js"/.exec(index)?.[1]?.split(",") ?? []
  return new Map([...modules, ...functions.map((name): readonly [string, string] => [name.trim(), "effect/Function"])])
}

/** Rewrites `import { A, B as C } from "effect";` in our compiled modules to imports of A's and B's modules. */
const withoutEffectIndex = (ours: string): Plugin => ({
  name: "without-effect-index",
  setup: (b) => {
    const modules = effectIndex()
    const one = (specifier: string): string | undefined => {
      const [name = "", local = name] = specifier.trim().split(/\s+as\s+/)
      const from = modules.get(name)
      if (from === undefined) return undefined
      return from === "effect/Function" && name !== "Function"
        ? `import { ${name} as ${local} } from "${from}";`
        : `import * as ${local} from "${from}";`
    }
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(ours)) return undefined
      const contents = readFileSync(args.path, "utf8").replace(
        /^import \{([^}]*)\} from "effect";$/gm,
        (all, names: string) => {
          const parts = names
            .split(",")
            .filter((n) => n.trim() !== "")
            .map(one)
          return parts.every((p) => p !== undefined) ? parts.join(" ") : all
        }
      )
      return { contents, loader: "js" }
    })
  }
})

const dist = fileURLToPath(new URL("../../", import.meta.url))

/**
 * The command lines whose compiled code the cache keeps, run in this order, each adding to the cache:
 * `--help` loads every command's definition and the help renderer; the control-socket clients then
 * run against a home with no agent (parse, connect, fail with exit 3) as `send` and `history` do.
 */
const WARM_UP = (home: string): ReadonlyArray<ReadonlyArray<string>> => [
  ["--help"],
  ["send", "--home", home, "bob@example.org", "hi"],
  ["history", "--home", home],
  ["status", "--home", home],
  ["contacts", "--home", home]
]

const bundle = async () => {
  const result = await build({
    entryPoints: [`${dist}cli/start.js`],
    bundle: true,
    write: false,
    format: "cjs",
    platform: "node",
    target: "node20",
    minify: true,
    keepNames: true,
    external: ["better-sqlite3", "pg", "pg-native", "pg-cursor"],
    // `import.meta.url` (the path of bin/sixchat in `demo`) from the bundle's own path: the bundle sits
    // two levels below the package root, as the tsc output does.
    define: { "import.meta.url": "__sixchatModuleUrl" },
    banner: { js: 'var __sixchatModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [withoutFastCheck, withoutEffectIndex(dist)],
    logLevel: "warning"
  })
  const text = result.outputFiles[0]?.text
  if (text === undefined) throw new Error("esbuild produced no bundle")
  // ASCII only, so that `cli/bundled.ts` reads it as Latin-1 (no UTF-8 decoding of 1.5 MB, and V8 gets
  // a one-byte string): esbuild leaves a few characters unescaped in regular expressions (`[✓✗…]`).
  const code = text.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  // The first line names the build: the code cache is used only with the bundle it was made from.
  const stamp = `// sixchat-build ${createHash("sha256").update(code).digest("hex").slice(0, 32)}`
  mkdirSync(Path.dirname(BUNDLE), { recursive: true })
  writeFileSync(BUNDLE, `${stamp}\n${code}`)
}

const warmUp = () => {
  const warm = fileURLToPath(new URL("./warm.js", import.meta.url))
  const home = mkdtempSync(Path.join(tmpdir(), "sixchat-warm-"))
  try {
    for (const args of WARM_UP(home))
      spawnSync(process.execPath, [warm, ...args], {
        stdio: "ignore",
        env: { ...process.env, NO_COLOR: "1" },
        timeout: 120_000 // a warm-up that hangs is killed: the build goes on, the cache keeps what it has
      })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
  // Without a cache the command line still runs, only slower to start: say so, do not fail the build.
  if (!existsSync(CODE_CACHE)) process.stderr.write("bundle: no code cache was written; start-up will be slower\n")
}

rmSync(Path.dirname(BUNDLE), { recursive: true, force: true })
await bundle()
warmUp()
