/**
 * The partial file of one incoming transfer while its bytes arrive (issue 4, section 3: flat memory,
 * resume from the received offset): records are hashed and copied into one of two fixed 1 MiB
 * buffers; a full buffer is written (one `pwrite` per ~1 MiB, see `flushInBackground`) and the other
 * fills. The store hears of bytes only once they are in the file, so a stored offset never runs ahead
 * of the partial file. Every `SYNC_AHEAD_BYTES` written, the file's data is synced in the background
 * (see `syncAhead`), so that the sync before `<FileAck>` finds little left to write.
 */
import type { Hash } from "node:crypto"
import type { FileHandle } from "node:fs/promises"
import { Effect, Either } from "effect"
import type { IncomingTransfer, TransferRef } from "../../../domain/agent/transfers.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { PeerLink } from "../core/plugin.js"
import { now, storeError } from "./context.js"
import { ioError, writeFullySync } from "./diskIo.js"
import type { FileTransferError } from "./policy.js"

/** An accepted transfer whose bytes are arriving. */
export interface Receiving {
  readonly ref: TransferRef
  readonly transfer: IncomingTransfer
  /** The session it was accepted on: a repeated offer on the same session is a duplicate. */
  readonly channel: PeerLink["channel"]
  readonly handle: FileHandle
  readonly hash: Hash
  /** Bytes received and hashed: the next record must start here. */
  offset: number
  /** Bytes known to be in the partial file; the rest, up to `offset`, are being written or buffered. */
  written: number
  /**
   * Two fixed write buffers, allocated at the first data record (an accepted offer with no data
   * flowing holds none): records are copied into the active one; when it is full it is written
   * and the other fills.
   */
  buffers: readonly [Uint8Array, Uint8Array] | undefined
  active: 0 | 1
  pendingLength: number
  /** The outcome of the last buffer's write (its byte count), not yet told to the store. */
  writing: Effect.Effect<number, FileTransferError> | undefined
  /** Moved to `receiving` in the store. */
  started: boolean
  /** Bytes written since the last background sync started (see `syncAhead`). */
  unsynced: number
  /** The background sync in flight: settles with its error, or `undefined`; never rejects. */
  syncing: Promise<unknown> | undefined
  /** A background sync failed: the file may have lost bytes, which a later sync need not report. */
  syncFailed: unknown
}

/** The fields of a new `Receiving` that no caller sets itself. */
export const idleReceiving = {
  buffers: undefined,
  active: 0,
  pendingLength: 0,
  writing: undefined,
  started: false,
  unsynced: 0,
  syncing: undefined,
  syncFailed: undefined
} as const

/** Size of each live incoming transfer's write buffer. */
export const WRITE_BUFFER_BYTES = 1024 * 1024

/** Bytes written to a partial file between two background syncs of its data. */
export const SYNC_AHEAD_BYTES = 8 * 1024 * 1024

/**
 * Starts syncing the file's data (`fdatasync`, in the thread pool) once `SYNC_AHEAD_BYTES` were
 * written since the last one started, unless one is still running. Without it the kernel keeps a
 * whole file's pages dirty (its own writeback starts only after 30 s or at 10 % of memory) and the
 * sync that `<FileDone>` requires (PROTOCOL.md 5.4.3) wrote all of it while the sender waited: ~55 ms
 * per 64 MiB here, 7 % of a transfer; now the disk writes while the bytes arrive and that sync finds
 * at most the last few MiB. A failure is kept for `syncedData`: Linux reports a write-back error to
 * one `fsync` only, so the final sync alone could miss it.
 */
const syncAhead = (r: Receiving, written: number): void => {
  r.unsynced += written
  if (r.unsynced < SYNC_AHEAD_BYTES || r.syncing !== undefined) return
  r.unsynced = 0
  const syncing: Promise<unknown> = r.handle.datasync().then(
    () => undefined,
    (cause: unknown) => cause
  )
  r.syncing = syncing
  void syncing.then((cause) => {
    if (cause !== undefined && r.syncFailed === undefined) r.syncFailed = cause
    if (r.syncing === syncing) r.syncing = undefined
  })
}
/** Two empty write buffers for a new `Receiving`. */
export const writeBuffers = (): readonly [Uint8Array, Uint8Array] => [
  new Uint8Array(WRITE_BUFFER_BYTES),
  new Uint8Array(WRITE_BUFFER_BYTES)
]

const buffersOf = (r: Receiving): readonly [Uint8Array, Uint8Array] => {
  if (r.buffers === undefined) r.buffers = writeBuffers()
  return r.buffers
}

export const makeWriter = (store: AgentStoreService) => {
  /** Takes the last write's outcome; only then does the store hear of its bytes (never ahead of the file). */
  const settle = (r: Receiving) =>
    Effect.gen(function* () {
      const writing = r.writing
      if (writing === undefined) return
      r.writing = undefined
      r.written += yield* writing
      yield* store.fileProgress({ ref: r.ref, offset: r.written, now: yield* now }).pipe(Effect.mapError(storeError))
    })

  /** As `flushInBackground`'s write (at most 1 MiB into the page cache), on the calling thread. */
  const writeAt = (r: Receiving, bytes: Uint8Array, at: number) =>
    Effect.try({
      try: () => writeFullySync(r.handle, bytes, at),
      catch: ioError(`Could not write ${r.transfer.tempPath}`)
    })

  /**
   * The active buffer is full: write it and switch to the other one. The store hears of its bytes at
   * the next `settle`, and a failure shows there, as when the write ran in the background.
   *
   * Written here, on the receiving thread, not through the thread pool or io_uring (issue 15): a 1 MiB
   * `pwrite` into the page cache takes ~0.1–0.3 ms, and run elsewhere it left the buffer's cache lines
   * with another core, so the next record's copy into it and the crypto around it paid for that: in
   * alternated runs of the agents (load 8–12) the receiver's CPU per MiB was 7–10 % lower this way, the
   * sender's a little lower too. The cost is the event loop held for that write; when the kernel
   * throttles a writer (dirty pages far ahead of the disk) that can be longer, but the transfer would
   * wait as long for a background write, and sessions' limits are tens of seconds.
   */
  const flushInBackground = (r: Receiving) =>
    Effect.gen(function* () {
      yield* settle(r)
      const bytes = buffersOf(r)[r.active].subarray(0, r.pendingLength)
      const at = r.written
      const written = Either.try({
        try: () => writeFullySync(r.handle, bytes, at),
        catch: ioError(`Could not write ${r.transfer.tempPath}`)
      })
      if (Either.isRight(written)) syncAhead(r, written.right)
      r.writing = written
      r.active = r.active === 0 ? 1 : 0
      r.pendingLength = 0
    })

  /** Everything received is in the file (and the store knows). */
  const flush = (r: Receiving) =>
    Effect.gen(function* () {
      yield* settle(r)
      if (r.pendingLength === 0) return
      r.written += yield* writeAt(r, buffersOf(r)[r.active].subarray(0, r.pendingLength), r.written)
      r.pendingLength = 0
      yield* store.fileProgress({ ref: r.ref, offset: r.written, now: yield* now }).pipe(Effect.mapError(storeError))
    })

  return { settle, flush, flushInBackground }
}

/**
 * The file's data on disk (`fsync`, PROTOCOL.md 5.4.3), once everything received was written: waits
 * for a background sync still running, then syncs the rest. Fails if any sync of the file failed.
 */
export const syncAll = async (r: Receiving): Promise<void> => {
  await r.syncing
  if (r.syncFailed !== undefined) throw r.syncFailed
  await r.handle.sync()
}
