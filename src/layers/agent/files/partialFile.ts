/**
 * The partial file of one incoming transfer while its bytes arrive (issue 4, section 3: flat memory,
 * resume from the received offset): records are hashed and kept as they arrived (the channel opens
 * each into fresh memory, the receiver's to keep) until about 1 MiB or `MAX_PENDING_PARTS` of them
 * are pending; those are then written in the background with one gathered write (one thread-pool trip,
 * overlapping the next records) while the next ones collect. Keeping them instead of copying them into
 * a write buffer saves a 64 KiB copy per record (issue 15); memory stays bounded by about 2 MiB per
 * transfer (pending + being written). The store hears of bytes only once they are in the file, so a
 * stored offset never runs ahead of the partial file.
 */
import type { Hash } from "node:crypto"
import type { FileHandle } from "node:fs/promises"
import { Effect } from "effect"
import type { IncomingTransfer, TransferRef } from "../../../domain/agent/transfers.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { PeerLink } from "../core/plugin.js"
import { now, storeError } from "./context.js"
import { ioError, startIo, writeGathered } from "./diskIo.js"
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
  /** Received bytes not yet handed to a write, in order (the records' own memory, never copied). */
  pending: Array<Uint8Array>
  /** Their total length. */
  pendingLength: number
  /** Waits for the background write of the other buffer (its byte count), if one is running. */
  writing: Effect.Effect<number, FileTransferError> | undefined
  /** Moved to `receiving` in the store. */
  started: boolean
}

/** Pending bytes from which a live incoming transfer writes them out. */
export const WRITE_BATCH_BYTES = 1024 * 1024
/**
 * Pending records from which they are written out whatever their size: a sender of tiny chunks
 * cannot make the receiver hold many small buffers (each costs an object) or exceed IOV_MAX.
 */
export const MAX_PENDING_PARTS = 1024

/** Whether the pending records are due for a write. */
export const writeDue = (r: Receiving): boolean =>
  r.pendingLength >= WRITE_BATCH_BYTES || r.pending.length >= MAX_PENDING_PARTS

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

  /** Takes the pending records for one write: the parts and their length. */
  const takePending = (r: Receiving) => {
    const parts = r.pending
    const length = r.pendingLength
    r.pending = []
    r.pendingLength = 0
    return { parts, length }
  }

  /** Enough is pending: write it in the background while the next records collect. */
  const flushInBackground = (r: Receiving) =>
    Effect.gen(function* () {
      yield* settle(r)
      const { parts, length } = takePending(r)
      // Started now (see `startIo`), and it finishes even if the session's fiber ends; `settle` or
      // `release` waits for it.
      const at = r.written
      r.writing = yield* startIo(
        () => writeGathered(r.handle, parts, at).then(() => length),
        ioError(`Could not write ${r.transfer.tempPath}`)
      )
    })

  /** Everything received is in the file (and the store knows). */
  const flush = (r: Receiving) =>
    Effect.gen(function* () {
      yield* settle(r)
      if (r.pendingLength === 0) return
      const { parts, length } = takePending(r)
      const at = r.written
      yield* Effect.tryPromise({
        try: () => writeGathered(r.handle, parts, at),
        catch: ioError(`Could not write ${r.transfer.tempPath}`)
      })
      r.written += length
      yield* store.fileProgress({ ref: r.ref, offset: r.written, now: yield* now }).pipe(Effect.mapError(storeError))
    })

  return { settle, flush, flushInBackground }
}
