/**
 * Small file helpers for the CA: exclusive creation with a mode set at creation time (keys are
 * never created readable and then chmod-ed), reads mapped to `CaError`.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { CaError } from "../../domain/pki/errors.js"

const errno = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

/** Creates `file` with `mode` (0o600 for keys) and writes `data`; refuses (`Exists`) when it already exists. */
export const writeNewFile = (file: string, data: string, mode: number): Effect.Effect<void, CaError> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await fs.open(file, "wx", mode)
      try {
        await handle.writeFile(data, "utf8")
        await handle.sync()
      } finally {
        await handle.close()
      }
    },
    catch: (cause) =>
      errno(cause) === "EEXIST"
        ? new CaError({ reason: "Exists", message: `${file} already exists; refusing to overwrite it.`, cause })
        : new CaError({ reason: "Io", message: `Could not write ${file}.`, cause })
  })

/** Writes `file` (public data only), replacing what was there. */
export const writeFile = (file: string, data: string, mode: number): Effect.Effect<void, CaError> =>
  Effect.tryPromise({
    try: () => fs.writeFile(file, data, { encoding: "utf8", mode }),
    catch: (cause) => new CaError({ reason: "Io", message: `Could not write ${file}.`, cause })
  })

/** Creates directory `dir` (mode 0700) and its missing parents; `Exists` when `dir` itself already exists. */
export const makeNewDirectory = (dir: string): Effect.Effect<void, CaError> =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(path.resolve(dir)), { recursive: true })
      await fs.mkdir(dir, { mode: 0o700 })
    },
    catch: (cause) =>
      errno(cause) === "EEXIST"
        ? new CaError({
            reason: "Exists",
            message: `${dir} already exists; choose a new directory (irp init never overwrites a domain).`,
            cause
          })
        : new CaError({ reason: "Io", message: `Could not create the directory ${dir}.`, cause })
  })

/** Creates `dir` (mode 0700) unless it exists; an existing directory is fine. */
export const ensureDirectory = (dir: string): Effect.Effect<void, CaError> =>
  Effect.tryPromise({
    try: () => fs.mkdir(dir, { recursive: true, mode: 0o700 }).then(() => undefined),
    catch: (cause) => new CaError({ reason: "Io", message: `Could not create the directory ${dir}.`, cause })
  })

/** Removes a directory this process just created (cleanup after a failed init). */
export const removeDirectory = (dir: string): Effect.Effect<void> =>
  Effect.promise(() => fs.rm(dir, { recursive: true, force: true })).pipe(Effect.ignore)

export const readText = (file: string): Effect.Effect<string, CaError> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) =>
      new CaError({
        reason: "Io",
        message:
          errno(cause) === "ENOENT"
            ? `${file} does not exist; is this a domain directory made by "sixchat irp init"?`
            : `Could not read ${file}.`,
        cause
      })
  })
