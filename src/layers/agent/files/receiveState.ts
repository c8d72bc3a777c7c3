/**
 * What the receiving half of file transfer keeps while files arrive (see `receiver.ts`): the live
 * transfers by record key, the ids of those just ended, and the two ways a live transfer ends here
 * (`release` pauses or ends it, `fail` ends it and tells the sender).
 */
import { Effect } from "effect"
import { mayOpenTransfer } from "../../../domain/agent/filePolicy.js"
import { fileIdBytes, fileIdKey } from "../../../domain/agent/fileRecord.js"
import type { IncomingTransfer, TransferRef } from "../../../domain/agent/transfers.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { PeerLink } from "../core/plugin.js"
import { type FilesContext, finish, sendQuietly } from "./context.js"
import { closeQuietly, removeQuietly } from "./diskIo.js"
import { makeWriter, type Receiving } from "./partialFile.js"

/** A live transfer with the key and id bytes its records carry. */
export interface HotTransfer {
  readonly peer: Handle
  readonly idBytes: Uint8Array
  readonly key: string
  readonly r: Receiving
}

/** How many ids of finished transfers are remembered to ignore records still in flight. */
const RECENT_LIMIT = 1024

export const inRef = (peer: Handle, id: Id): TransferRef => ({ direction: "in", peer, id })
export const recordKey = (peer: Handle, idKey: string) => `${peer}\u0000${idKey}`
export const keyOf = (peer: Handle, id: Id) => recordKey(peer, fileIdKey(fileIdBytes(id)))

export const makeReceiveState = (ctx: FilesContext) => {
  const { store } = ctx
  /** By `peer \0 fileIdKey`: the per-record lookup. */
  const receiving = new Map<string, Receiving>()
  /** Transfers that just ended (or ids already complained about): their late records are dropped silently. */
  const recent = new Set<string>()
  const remember = (key: string) => {
    recent.add(key)
    if (recent.size > RECENT_LIMIT) recent.delete(recent.values().next().value!)
  }

  const { flush, flushInBackground } = makeWriter(store)

  /** The transfer the last data record went to (the fast path of `receiveData.ts`); forgotten with it. */
  const hot: { current: HotTransfer | undefined } = { current: undefined }

  /**
   * Forgets the live state of a transfer and closes its file. With `keep` the buffered bytes are
   * written first (the transfer pauses); without, they are dropped (it ends).
   */
  const release = (peer: Handle, id: Id, keep: boolean) =>
    Effect.suspend(() => {
      const key = keyOf(peer, id)
      const r = receiving.get(key)
      receiving.delete(key)
      remember(key)
      if (hot.current?.key === key) hot.current = undefined
      if (r === undefined) return Effect.void
      const saved = keep
        ? flush(r).pipe(Effect.catchAll((e) => Effect.logWarning(`files: ${e.message}`)))
        : r.writing === undefined
          ? Effect.void
          : Effect.ignore(r.writing)
      return Effect.zipRight(saved, closeQuietly(r.handle))
    })

  /** Ends a transfer as failed, removes the partial file and tells the sender why. */
  const fail = (link: PeerLink | undefined, t: IncomingTransfer, reason: string, detail: string) =>
    Effect.gen(function* () {
      yield* release(t.peer, t.id, false)
      yield* removeQuietly(t.tempPath)
      yield* finish(store, inRef(t.peer, t.id), "failed", detail)
      if (link !== undefined) yield* sendQuietly(link, { _tag: "e2e.FileCancel", id: t.id, reason })
    })

  /** Whether one more partial file may be opened for `peer` (5.4.7: caps per peer and in total). */
  const mayOpen = (peer: Handle) => {
    let ofPeer = 0
    for (const r of receiving.values()) if (r.ref.peer === peer) ofPeer++
    return mayOpenTransfer(ctx.caps, { peer: ofPeer, total: receiving.size })
  }

  return { receiving, recent, remember, hot, flush, flushInBackground, release, fail, mayOpen }
}

export type ReceiveState = ReturnType<typeof makeReceiveState>
