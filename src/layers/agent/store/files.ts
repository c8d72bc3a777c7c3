/**
 * Where a received file lands (issue 4, section 3: "files land in `H/downloads/` under the offered
 * name made safe: no path traversal, no overwrite"). The name is made safe again here (the function
 * is idempotent), so no caller can place a file outside `dir` or over an existing one.
 */
import { closeSync, constants, fsync, linkSync, mkdirSync, openSync, unlinkSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import { numberedName, safeFileName } from "../../../domain/agent/fileName.js"

/** How many numbered alternatives (`name (1).ext` …) are tried before giving up. */
export const MAX_NAME_CANDIDATES = 10_000

const errno = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

const ioError = (message: string) => (cause: unknown) =>
  new AgentStoreError({ reason: "Io", message: `${message} (${errno(cause) ?? String(cause)}).`, cause })

/** `dir/candidate`, checked to stay inside `dir` (defence in depth: the name is a single safe component). */
const inside = (dir: string, candidate: string): string => {
  const full = path.resolve(dir, candidate)
  if (path.dirname(full) !== path.resolve(dir) || path.basename(full) !== candidate) {
    throw new Error(`refusing a name that leaves ${dir}: ${candidate}`)
  }
  return full
}

const tooMany = (dir: string, name: string) =>
  new AgentStoreError({
    reason: "Io",
    message: `${dir} already holds ${MAX_NAME_CANDIDATES} files named like ${name}: clean up the downloads directory.`
  })

/**
 * The first of `name`, `name (1).ext`, `name (2).ext` … that does not exist in `dir`, as a path.
 * Only a suggestion: another writer may take it before it is used; `placeWithoutOverwrite` is the
 * race-free way to put a file there.
 */
export const uniqueName = (dir: string, name: string): Effect.Effect<string, AgentStoreError> =>
  Effect.tryPromise({
    try: async () => {
      const safe = safeFileName(name)
      for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
        const candidate = inside(dir, numberedName(safe, n))
        try {
          await fs.lstat(candidate)
        } catch (e) {
          if (errno(e) === "ENOENT") return candidate
          throw e
        }
      }
      return undefined
    },
    catch: ioError(`Could not look for a free file name in ${dir}`)
  }).pipe(Effect.flatMap((found) => (found === undefined ? Effect.fail(tooMany(dir, name)) : Effect.succeed(found))))

/**
 * Links `from` to `to`, failing with EEXIST when `to` exists (never replacing it); `false` where the
 * file system has no hard links (another file system, FAT, some network mounts).
 */
const linkExclusive = (from: string, to: string): boolean => {
  try {
    linkSync(from, to)
    return true
  } catch (e) {
    const code = errno(e)
    if (code === "EXDEV" || code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") {
      return false
    }
    throw e
  }
}

/**
 * Syncs a directory, so that the names just linked into it and unlinked from it survive a power cut:
 * the `fsync` in the thread pool, its descriptor opened and closed here (neither waits on the disk).
 */
const syncDirectory = async (dir: string): Promise<void> => {
  const fd = openSync(dir, "r")
  try {
    await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e === null ? resolve() : reject(e))))
  } finally {
    closeSync(fd)
  }
}

/**
 * Moves the finished file `from` into `dir` under `name` made safe, or under the first free numbered
 * alternative, without ever replacing an existing file (an exclusive hard link, or an exclusive copy
 * where links are not supported, then `from` is removed), and syncs the directory so the new name
 * survives a power cut. Returns the final path.
 *
 * The directory operations run on the calling thread (a `mkdir` that finds the directory, a `link`,
 * an `unlink` of a second name, which frees no data: metadata in the page cache, tens of µs each):
 * through the thread pool each cost a hand-off there and back, and a receiver places a file between
 * the sender's last byte and its `<FileAck>` (issue 15). The copy and the directory's sync, which
 * wait on the disk, stay in the thread pool.
 */
export const placeWithoutOverwrite = (input: {
  readonly from: string
  readonly dir: string
  readonly name: string
}): Effect.Effect<string, AgentStoreError> =>
  Effect.tryPromise({
    try: async () => {
      const safe = safeFileName(input.name)
      mkdirSync(input.dir, { recursive: true, mode: 0o700 })
      for (let n = 0; n < MAX_NAME_CANDIDATES; n++) {
        const candidate = inside(input.dir, numberedName(safe, n))
        try {
          if (!linkExclusive(input.from, candidate)) await fs.copyFile(input.from, candidate, constants.COPYFILE_EXCL)
        } catch (e) {
          if (errno(e) === "EEXIST") continue
          throw e
        }
        unlinkSync(input.from)
        await syncDirectory(input.dir)
        return candidate
      }
      return undefined
    },
    catch: ioError(`Could not move the received file ${input.from} into ${input.dir}`)
  }).pipe(
    Effect.flatMap((placed) =>
      placed === undefined ? Effect.fail(tooMany(input.dir, input.name)) : Effect.succeed(placed)
    )
  )
