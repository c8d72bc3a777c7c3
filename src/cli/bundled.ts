/**
 * Runs the bundled command line (`dist/bundle/sixchat.cjs`, built by `build/bundle.ts`) with V8's code
 * cache (issue 13; DECISIONS.md, "Start-up of the command line"). Start-up is compiling JavaScript: the
 * bundle holds ~1.5 MB of effect, @effect/cli and our code, and without a cache every run parses it
 * and compiles each function it calls again. `sixchat.cjs.cache`, written by the build, holds the
 * bytecode V8 produced for `--help` and the control-socket clients; V8 deserialises it instead.
 *
 * The cache is trusted only for the bundle it was made from: its first line is the bundle's first line
 * (`// sixchat-build <hash of the bundle>`). V8 itself rejects a cache from another V8 version or
 * other V8 flags (`node --cpu-prof …`); in every such case the bundle compiles as without a cache.
 * Node 20 has no compile cache for ES modules (`module.enableCompileCache` came in Node 22.1), hence a
 * CommonJS bundle run through `vm.Script`.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as Vm from "node:vm"

const dir = fileURLToPath(new URL("../bundle/", import.meta.url))
/** The bundled command line, also runnable as it is (`node dist/bundle/sixchat.cjs …`, no cache). */
export const BUNDLE = `${dir}sixchat.cjs`
/** The code cache: the bundle's first line, a newline, then V8's cached data. */
export const CODE_CACHE = `${dir}sixchat.cjs.cache`

const readIfPresent = (path: string): Buffer | undefined => {
  try {
    return readFileSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}

/** The code cache if it can be read: it is optional, so a cache that cannot be read is not an error. */
const readCache = (): Buffer | undefined => {
  try {
    return readFileSync(CODE_CACHE)
  } catch {
    return undefined
  }
}

/** The bundle's first line and its newline (`// sixchat-build HASH`), which the cache file starts with. */
export const stampOf = (source: string): Buffer => Buffer.from(source.slice(0, source.indexOf("\n") + 1))

/** The cached data in `file` when it was made for `source`. */
export const cachedDataFor = (source: string, file: Buffer | undefined): Buffer | undefined => {
  const stamp = stampOf(source)
  return file !== undefined && stamp.length > 1 && file.subarray(0, stamp.length).equals(stamp)
    ? file.subarray(stamp.length)
    : undefined
}

/** The CommonJS wrapper, on the bundle's first line so that line numbers in stack traces stay right. */
export const compile = (source: string, cachedData: Buffer | undefined): Vm.Script =>
  new Vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    ...(cachedData === undefined ? {} : { cachedData })
  })

/**
 * Runs the bundle when it exists (returns false when it does not: a checkout built by `tsc` alone).
 * `produceCache` (the build's warm-up, `build/warm.ts`) writes the cache when the process exits, so it
 * holds every function the command compiled, on top of what the cache it was given held.
 */
export const runBundle = (produceCache?: string): boolean => {
  const code = readIfPresent(BUNDLE)
  if (code === undefined) return false
  const source = code.toString("latin1") // the build writes ASCII only
  const script = compile(source, cachedDataFor(source, readCache()))
  if (produceCache !== undefined)
    process.once("exit", () => {
      // Written whole then renamed: a reader never sees half a cache.
      const temporary = `${produceCache}.${process.pid}.tmp`
      writeFileSync(temporary, Buffer.concat([stampOf(source), script.createCachedData()]))
      renameSync(temporary, produceCache)
    })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dir)
  return true
}
