/**
 * The file I/O of transfers, with flat memory (issue 4, section 3: "A 1 GiB file must transfer
 * with flat memory use"): every read goes into a fixed buffer, hashing is incremental, nothing
 * holds a whole file.
 */

import { createHash, type Hash } from "node:crypto"
import { type BigIntStats, constants, fstatSync, mkdirSync, readvSync, writeSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Either } from "effect"
import type { FileEtag } from "../../../domain/agent/transfers.js"
import { FileTransferError } from "./policy.js"

/** Buffer for hashing passes (the re-hash of a resumed prefix, on either side). */
const HASH_BUFFER_BYTES = 1024 * 1024

export const errno = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

export const ioError = (message: string) => (cause: unknown) =>
  new FileTransferError({
    reason: errno(cause) === "ENOENT" ? "NotFound" : "Io",
    message: `${message} (${errno(cause) ?? String(cause)}).`,
    cause
  })

/**
 * Starts the I/O of `run` at once and gives back the effect that waits for its result. Not a forked
 * fiber: a fork starts only once the current fiber yields, and a sender that finds the channel ready
 * sends a whole batch without yielding, so a forked read of the next batch began only after it (the
 * read no longer overlapped the sending, issue 15). The promise never rejects unobserved; if nobody
 * waits (the transfer stopped), the operation still completes, and a FileHandle closes after it.
 */
export const startIo = <A>(
  run: () => Promise<A>,
  onError: (cause: unknown) => FileTransferError
): Effect.Effect<Effect.Effect<A, FileTransferError>> =>
  Effect.sync(() => {
    const settled = run().then(
      (value) => Either.right(value),
      (cause: unknown) => Either.left(onError(cause))
    )
    return Effect.flatMap(
      Effect.promise(() => settled),
      (result): Effect.Effect<A, FileTransferError> => result
    )
  })

/** Reads up to `length` bytes at `position` into `buffer[at..]`; fewer only at the end of the file. */
export const readFully = async (
  handle: fs.FileHandle,
  buffer: Uint8Array,
  at: number,
  length: number,
  position: number
): Promise<number> => {
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, at + done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}

/**
 * Views of `length` bytes laid out as records in `buffer`: after `gap` bytes (room for a header), up
 * to `chunk` bytes, again and again (`gap + chunk` apart); the last view is shorter when `length` ends
 * inside it.
 */
export const chunkViews = (buffer: Uint8Array, gap: number, chunk: number, length: number): Array<Uint8Array> => {
  const views: Array<Uint8Array> = []
  for (let o = 0, base = gap; o < length; o += chunk, base += gap + chunk)
    views.push(buffer.subarray(base, base + Math.min(chunk, length - o)))
  return views
}

/** What is left of `views` once `bytes` of them were read: a short read continues behind what arrived (rare for a regular file). */
const behind = (views: ReadonlyArray<Uint8Array>, bytes: number): ReadonlyArray<Uint8Array> => {
  let skip = bytes
  let i = 0
  while (i < views.length && skip >= views[i]!.length) skip -= views[i++]!.length
  const rest = views.slice(i)
  if (rest.length > 0 && skip > 0) rest[0] = rest[0]!.subarray(skip)
  return rest
}

/**
 * Reads the file from `position` into `views` in order (one scattered read, `preadv`, per call; more
 * calls only after a short read); the bytes read, fewer than the views hold only at the end of the file.
 */
export const readScattered = async (
  handle: fs.FileHandle,
  views: ReadonlyArray<Uint8Array>,
  position: number
): Promise<number> => {
  let done = 0
  let pending: ReadonlyArray<Uint8Array> = views
  while (pending.length > 0) {
    const { bytesRead } = await handle.readv(pending, position + done)
    if (bytesRead === 0) break
    done += bytesRead
    pending = behind(pending, bytesRead)
  }
  return done
}

/** `readScattered` on the calling thread (`preadv`): for the sender's batches, see `sender.ts`. */
export const readScatteredSync = (
  handle: fs.FileHandle,
  views: ReadonlyArray<Uint8Array>,
  position: number
): number => {
  let done = 0
  let pending: ReadonlyArray<Uint8Array> = views
  while (pending.length > 0) {
    const bytesRead = readvSync(handle.fd, pending, position + done)
    if (bytesRead === 0) break
    done += bytesRead
    pending = behind(pending, bytesRead)
  }
  return done
}

/** Writes all of `bytes` at `position`. */
export const writeFully = async (handle: fs.FileHandle, bytes: Uint8Array, position: number): Promise<void> => {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done)
    done += bytesWritten
  }
}

/**
 * Writes all of `bytes` at `position` on the calling thread (`pwrite` into the page cache). For the
 * receiver's 1 MiB buffers only, see `partialFile.ts`.
 */
export const writeFullySync = (handle: fs.FileHandle, bytes: Uint8Array, position: number): number => {
  let done = 0
  while (done < bytes.length) done += writeSync(handle.fd, bytes, done, bytes.length - done, position + done)
  return done
}

/**
 * `stat` of an open file on the calling thread (`fstat`: the inode, no disk wait). The transfers stat
 * their open files once or twice each, between the offer and the first byte and between the last byte
 * and `<FileDone>`; through the thread pool each cost a hand-off there and back (issue 15).
 */
export const statOpen = (handle: fs.FileHandle): BigIntStats => fstatSync(handle.fd, { bigint: true })

/**
 * Feeds the first `length` bytes of the file to `hash`; the number of bytes actually there. Two
 * buffers: the next block is read (in the thread pool) while this one is hashed, so the pass costs
 * about the hashing alone.
 */
export const hashPrefix = async (handle: fs.FileHandle, length: number, hash: Hash): Promise<number> => {
  const size = Math.min(HASH_BUFFER_BYTES, Math.max(length, 1))
  const buffers = [new Uint8Array(size), new Uint8Array(size)] as const
  const readAt = (i: 0 | 1, position: number) =>
    readFully(handle, buffers[i], 0, Math.min(size, length - position), position)
  let position = 0
  let current: 0 | 1 = 0
  let pending = length > 0 ? readAt(current, 0) : Promise.resolve(0)
  for (;;) {
    const n = await pending
    if (n === 0) break
    const next = position + n
    const other: 0 | 1 = current === 0 ? 1 : 0
    // Started before hashing, awaited at the top of the next turn (a read never outlives the loop).
    pending = next < length && n === Math.min(size, length - position) ? readAt(other, next) : Promise.resolve(0)
    hash.update(buffers[current].subarray(0, n))
    position = next
    current = other
  }
  return position
}

/**
 * The validator of a file as offered (`<FileOffer etag>`, docs/PROTOCOL.md 5.4.1): rsync's quick
 * check (size and modification time, to the nanosecond where the file system keeps it) plus the
 * inode and device, so that a file replaced by another one (a rename over it) does not pass for the
 * same. Hashed into 32 hex digits so the peer learns nothing of the local file system.
 */
export const fileEtag = (stats: BigIntStats): FileEtag =>
  createHash("sha256")
    .update(`sixchat-etag\u0000${stats.size}\u0000${stats.mtimeNs}\u0000${stats.ino}\u0000${stats.dev}`)
    .digest("hex")
    .slice(0, 32) as FileEtag

/** Size and etag of a regular file (one `stat`; its bytes are hashed later, while they stream). */
export const statForOffer = (
  file: string
): Effect.Effect<{ readonly size: number; readonly etag: FileEtag }, FileTransferError> =>
  Effect.tryPromise({
    try: async () => {
      const stats = await fs.stat(file, { bigint: true })
      if (!stats.isFile()) return undefined
      // Fails below for a size past 2^53 - 1 bytes, which this implementation does not count (5.4.6).
      return { size: Number(stats.size), etag: fileEtag(stats) }
    },
    catch: ioError(`Could not read ${file}: check that the file exists and is readable`)
  }).pipe(
    Effect.flatMap((r) =>
      r === undefined
        ? Effect.fail(
            new FileTransferError({
              reason: "BadRequest",
              message: `${file} is not a regular file: send a file, not a directory or device.`
            })
          )
        : Effect.succeed(r)
    )
  )

/**
 * Opens (creating, mode 0600, in a 0700 directory) a partial file for reading and writing at any
 * position. The `mkdir` (which mostly finds the directory) runs here, not in the thread pool: one
 * hand-off fewer between `<FileOffer>` and `<FileAccept>` (issue 15).
 */
export const openPartial = (file: string): Effect.Effect<fs.FileHandle, FileTransferError> =>
  Effect.tryPromise({
    try: () => {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      return fs.open(file, constants.O_RDWR | constants.O_CREAT, 0o600)
    },
    catch: ioError(
      `Could not open the partial download ${file}: check the downloads directory's permissions and free space`
    )
  })

/** Closes a handle, ignoring errors (it may already be closed). */
export const closeQuietly = (handle: fs.FileHandle): Effect.Effect<void> =>
  Effect.promise(() => handle.close().catch(() => undefined))

/** Removes a file if it is there. */
export const removeQuietly = (file: string): Effect.Effect<void> =>
  Effect.promise(() => fs.unlink(file).catch(() => undefined))
