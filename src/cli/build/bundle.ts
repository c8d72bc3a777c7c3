/**
 * Bundles the compiled command line (dist/main.js) into dist/bundle/ (`npm run build` runs it after
 * tsc). Start-up time is module loading: unbundled, `sixchat send` resolves, reads and links about
 * 1000 files (effect, @effect/cli, fast-check through effect/Schema, …); bundled, a handful. Code
 * splitting keeps the per-command dynamic imports of `cli/app.ts` lazy: each command's modules are
 * chunks loaded only when that command runs. `bin/sixchat` runs the bundle when it exists and
 * dist/main.js otherwise.
 *
 * Native and CommonJS-only storage drivers stay outside (loaded from node_modules when a command
 * opens storage). fast-check (a quarter of the code `send` loaded) is reached only through
 * effect/Schema's `Arbitrary` support, which builds property-test generators and which the command
 * line never calls: the bundle replaces it with an empty module.
 */
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { build, type Plugin } from "esbuild"

const withoutFastCheck: Plugin = {
  name: "without-fast-check",
  setup: (b) => {
    b.onResolve({ filter: /^fast-check$/ }, () => ({ path: "fast-check", namespace: "sixchat-empty" }))
    b.onLoad({ filter: /.*/, namespace: "sixchat-empty" }, () => ({ contents: "export {}", loader: "js" }))
  }
}

const dist = fileURLToPath(new URL("../../", import.meta.url))
const outdir = `${dist}bundle`

rmSync(outdir, { recursive: true, force: true })
await build({
  entryPoints: { main: `${dist}main.js` },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  keepNames: true,
  chunkNames: "chunk-[hash]",
  external: ["better-sqlite3", "pg", "pg-native", "pg-cursor"],
  // Bundled CommonJS modules call require() for Node built-ins.
  banner: {
    js: 'import { createRequire as __sixchatRequire } from "node:module"; const require = __sixchatRequire(import.meta.url);'
  },
  plugins: [withoutFastCheck],
  logLevel: "warning"
})
