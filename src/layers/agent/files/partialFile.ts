/**
 * The partial file of one incoming transfer while its bytes arrive (issue 4, section 3: flat memory,
 * resume from the received offset): records are hashed and copied into one of two fixed 1 MiB
 * buffers; a full buffer is written in the background (one thread-pool trip per ~1 MiB, overlapping
 * the next records) while the other fills. The store hears of bytes only once they are in the file,
 * so a stored offset never runs ahead of the partial file.
 */
import type { Hash } from "node:crypto"
import type { FileHandle } from "node:fs/promises"
import { Effect } from "effect"
import type { IncomingTransfer, TransferRef } from "../../../domain/agent/transfers.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { PeerLink } from "../core/plugin.js"
import { now, storeError } from "./context.js"
import { ioError, startIo, writeFully } from "./diskIo.js"
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
   * in the background (one thread-pool trip per ~1 MiB, overlapping the next records) while the
   * other fills.
   */
  buffers: readonly [Uint8Array, Uint8Array] | undefined
  active: 0 | 1
  pendingLength: number
  /** Waits for the background write of the other buffer (its byte count), if one is running. */
  writing: Effect.Effect<number, FileTransferError> | undefined
  /** Moved to `receiving` in the store. */
  started: boolean
}

/** Size of each live incoming transfer's write buffer. */
export const WRITE_BUFFER_BYTES = 1024 * 1024

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
  /** Waits for the background write; only then does the store hear of its bytes (never ahead of the file). */
  const settle = (r: Receiving) =>
    Effect.gen(function* () {
      const writing = r.writing
      if (writing === undefined) return
      r.writing = undefined
      r.written += yield* writing
      yield* store.fileProgress({ ref: r.ref, offset: r.written, now: yield* now }).pipe(Effect.mapError(storeError))
    })

  const writeAt = (r: Receiving, bytes: Uint8Array, at: number) =>
    Effect.tryPromise({
      try: () => writeFully(r.handle, bytes, at),
      catch: ioError(`Could not write ${r.transfer.tempPath}`)
    }).pipe(Effect.as(bytes.length))

  /** The active buffer is full: write it in the background and switch to the other one. */
  const flushInBackground = (r: Receiving) =>
    Effect.gen(function* () {
      yield* settle(r)
      const bytes = buffersOf(r)[r.active].subarray(0, r.pendingLength)
      // Started now (see `startIo`), and it finishes even if the session's fiber ends; `settle` or
      // `release` waits for it.
      const at = r.written
      r.writing = yield* startIo(
        () => writeFully(r.handle, bytes, at).then(() => bytes.length),
        ioError(`Could not write ${r.transfer.tempPath}`)
      )
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
