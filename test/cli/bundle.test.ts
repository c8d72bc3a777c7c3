/**
 * The bundled command line and its code cache (issue 13; `src/cli/bundled.ts`, `src/cli/build/bundle.ts`):
 * the build's cache is one this Node accepts for this bundle, and a command line behaves the same with
 * the cache, with a cache from another build, with a damaged one, with none, and with no bundle at all
 * (tsc output). Speed is a figure of `npm run bench:cli`, not tested here.
 */
import { spawnSync } from "node:child_process"
import { cpSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { BUNDLE, CODE_CACHE, cachedDataFor, compile, stampOf } from "../../src/cli/bundled.js"
import { tempDir } from "../support/tempDirs.js"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
// The built files, as bin/sixchat runs them (src/cli/bundled.ts names them under dist/ once compiled).
const BUILT_BUNDLE = Path.join(ROOT, "dist/bundle", Path.basename(BUNDLE))
const BUILT_CACHE = Path.join(ROOT, "dist/bundle", Path.basename(CODE_CACHE))

/** A copy of the package (bin/, dist/, package.json; node_modules linked) that a test may damage. */
const copyPackage = (): string => {
  const dir = tempDir("sixchat-bundle-")
  for (const part of ["bin", "dist", "package.json"])
    cpSync(Path.join(ROOT, part), Path.join(dir, part), { recursive: true })
  symlinkSync(realpathSync(Path.join(ROOT, "node_modules")), Path.join(dir, "node_modules"))
  return dir
}

const sixchat = (packageDir: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, [Path.join(packageDir, "bin/sixchat"), ...args], { encoding: "utf8" })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("the bundle's code cache", () => {
  it("the bundle is ASCII, and the cache names this bundle and is accepted by this Node", () => {
    const code = readFileSync(BUILT_BUNDLE)
    expect(code.every((byte) => byte < 0x80)).toBe(true)
    const source = code.toString("latin1")
    expect(stampOf(source).toString()).toMatch(/^\/\/ sixchat-build [0-9a-f]{32}\n$/)
    const cachedData = cachedDataFor(source, readFileSync(BUILT_CACHE))
    expect(cachedData).toBeDefined()
    expect(compile(source, cachedData).cachedDataRejected).toBe(false)
  })

  it("a command line behaves the same with the cache, another build's cache, a damaged cache, no cache and no bundle", () => {
    const pkg = copyPackage()
    const home = tempDir("sixchat-bundle-home-")
    const lines: ReadonlyArray<ReadonlyArray<string>> = [
      ["send", "--help"],
      ["history", "--home", home],
      ["sned", "bob@example.org", "hi"]
    ]
    const expected = lines.map((args) => sixchat(pkg, args))
    expect(expected.map((r) => r.code)).toEqual([0, 3, 2])
    expect(expected[1]?.stderr).toContain("no agent is running")

    const cache = Path.join(pkg, "dist/bundle", Path.basename(CODE_CACHE))
    const good = readFileSync(cache)
    const stamp = stampOf(readFileSync(Path.join(pkg, "dist/bundle", Path.basename(BUNDLE)), "latin1"))
    const otherBuild = Buffer.concat([Buffer.from(`// sixchat-build ${"0".repeat(32)}\n`), good.subarray(stamp.length)])
    const damaged = Buffer.concat([stamp, Buffer.from("not a V8 code cache")])
    for (const variant of [otherBuild, damaged, undefined, "no bundle"] as const) {
      if (variant === undefined) rmSync(cache)
      else if (variant === "no bundle") rmSync(Path.join(pkg, "dist/bundle"), { recursive: true })
      else writeFileSync(cache, variant)
      expect(lines.map((args) => sixchat(pkg, args))).toEqual(expected)
    }
  })
})
