/**
 * The consumer test (issue 12 §5): what `npm pack` ships is a library a downstream project can use.
 *
 * 1. `npm pack --ignore-scripts` of this checkout (its `dist/` as `npm test` just built it).
 * 2. A fresh temp project: the tarball extracted as `node_modules/sixchat`, and beside it a symlink for each
 *    of the package's declared `dependencies` plus the consumer's tools (typescript, vitest, @effect/vitest,
 *    @types/node), taken from this checkout's `node_modules`. No network and no npm cache are needed: CI
 *    has installed exactly these with `npm ci`. Only declared dependencies are linked, so an import the
 *    package makes without declaring it fails here.
 * 3. `tsc --noEmit` (strict, NodeNext) over a program importing `sixchat` and `sixchat/testing`, and over
 *    docs/LIBRARY.md's examples (`examples/`): the published `exports` and declarations.
 * 4. `vitest run` there: a deterministic two-peer test written with `@effect/vitest` against
 *    `sixchat/testing` only.
 * The temp project is removed after the file (test/support/tempDirs.ts).
 */
import { execFile } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { tempDir } from "../support/tempDirs.js"

const root = resolve(import.meta.dirname, "../..")
const fixtures = join(root, "test/package/consumer")
/** Runs a process to its end (asynchronously: the test worker must keep answering vitest); its stdout. */
const run = async (cwd: string, file: string, args: ReadonlyArray<string>): Promise<string> => {
  try {
    return (await promisify(execFile)(file, [...args], { cwd, encoding: "utf8", timeout: 300_000 })).stdout
  } catch (e) {
    const failed = e as { stdout?: string; stderr?: string; message: string }
    throw new Error(
      `${file} ${args.join(" ")} failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`
    )
  }
}

describe("the packed package, installed into a fresh project", () => {
  it("ships what a user needs, typechecks a program against its types and runs a two-peer test", async () => {
    expect(existsSync(join(root, "dist/index.d.ts")), "dist/ is missing: run `npm run build` (npm test does)").toBe(
      true
    )
    const work = tempDir("sixchat-consumer-")
    const packed = JSON.parse(
      await run(root, "npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work])
    )
    const files: ReadonlyArray<string> = packed[0].files.map((f: { path: string }) => f.path)
    // What is shipped: the library, its types, the licence; no benchmarks, no maps to absent sources, no tests.
    expect(files).toContain("LICENSE")
    expect(files).toContain("dist/index.d.ts")
    expect(files).toContain("dist/testing/index.d.ts")
    expect(files.filter((f) => f.endsWith(".map") || f.startsWith("dist/bench/") || f.startsWith("test/"))).toEqual([])

    const project = join(work, "project")
    const modules = join(project, "node_modules")
    mkdirSync(join(modules, "sixchat"), { recursive: true })
    await run(work, "tar", [
      "-xzf",
      join(work, packed[0].filename),
      "-C",
      join(modules, "sixchat"),
      "--strip-components=1"
    ])
    const manifest = JSON.parse(readFileSync(join(modules, "sixchat/package.json"), "utf8"))
    const linked = [...Object.keys(manifest.dependencies), "typescript", "vitest", "@effect/vitest", "@types/node"]
    for (const name of linked) {
      mkdirSync(dirname(join(modules, name)), { recursive: true })
      symlinkSync(join(root, "node_modules", name), join(modules, name), "dir")
    }
    // vitest's own dependencies resolve from its real path (this checkout), not from the project.
    for (const file of readdirSync(fixtures)) copyFileSync(join(fixtures, file), join(project, file))
    // docs/LIBRARY.md's examples compile against the published types too.
    mkdirSync(join(project, "examples"))
    for (const file of readdirSync(join(root, "examples")))
      copyFileSync(join(root, "examples", file), join(project, "examples", file))
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { sixchat: "0.1.0" } })
    )
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          // As most projects: @effect/sql-pg's own declarations need @types/pg, which is not ours to add.
          skipLibCheck: true,
          types: ["node"]
        },
        include: ["*.ts", "examples/*.ts"]
      })
    )
    writeFileSync(
      join(project, "vitest.config.mjs"),
      'export default { test: { include: ["*.spec.ts"], testTimeout: 60000 } }\n'
    )

    await run(project, process.execPath, [join(modules, "typescript/bin/tsc"), "-p", "tsconfig.json"])
    const output = await run(project, process.execPath, [join(modules, "vitest/vitest.mjs"), "run", "--root", project])
    expect(output).toMatch(/1 passed/)
  })
})
