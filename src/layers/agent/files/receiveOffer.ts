/**
 * Offer admission on the receiving side (PROTOCOL.md §15; docs/PROTOCOL.md 5.4.6, 5.4.7): a
 * `<FileOffer>` is checked, recorded (idempotent by id), then accepted, resumed, held for the user or
 * answered as already finished; a held one starts when the user accepts it.
 *
 * A resumed transfer (the sender re-offers after a reconnect or restart) is accepted from the
 * smaller of the stored offset and the partial file's length, after re-hashing that prefix.
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { mayStoreOffer, offerProblem, TOO_MANY_TRANSFERS } from "../../../domain/agent/filePolicy.js"
import { MAX_FILE_CHUNK } from "../../../domain/agent/fileRecord.js"
import {
  type FileEtag,
  type IncomingTransfer,
  isTerminalTransfer,
  type TransferRef
} from "../../../domain/agent/transfers.js"
import type { Handle } from "../../../domain/brands.js"
import type { FileOffer } from "../../../domain/e2e/messages.js"
import type { PeerLink } from "../core/plugin.js"
import { type FilesContext, now, partialPath, refKey, sendQuietly, storeError, verifiedContact } from "./context.js"
import { closeQuietly, hashPrefix, ioError, openPartial, statOpen } from "./diskIo.js"
import { idleReceiving } from "./partialFile.js"
import { FileTransferError, mayAutoAccept } from "./policy.js"
import { inRef, keyOf, type ReceiveState } from "./receiveState.js"

export const makeOfferAdmission = (ctx: FilesContext, state: ReceiveState) => {
  const { store } = ctx
  const { receiving, recent, release, mayOpen } = state

  /**
   * Opens the partial file, trims it to the resume point, re-hashes the prefix, stores `accepted`
   * and answers `<FileAccept offset>`.
   */
  const start = (link: PeerLink, t: IncomingTransfer) =>
    Effect.gen(function* () {
      const wasOpen = receiving.has(keyOf(t.peer, t.id))
      yield* release(t.peer, t.id, true)
      if (!mayOpen(t.peer)) return false
      // Re-read when releasing may have saved more bytes; otherwise `t` is current (both callers read it
      // from the store, with the in-memory offset), and a read costs ~1-2 ms of CPU before every
      // `<FileAccept>` (issue 15).
      const current = wasOpen
        ? ((yield* store.transfer(inRef(t.peer, t.id)).pipe(Effect.mapError(storeError))) ?? t)
        : t
      const receivedOffset = current.direction === "in" ? current.receivedOffset : t.receivedOffset
      const handle = yield* openPartial(t.tempPath)
      const hash = createHash("sha256")
      const offset = yield* Effect.tryPromise({
        try: async () => {
          const size = Number(statOpen(handle).size)
          // After a crash the stored offset may lag behind the file, or the file behind the store.
          const resume = Math.min(receivedOffset, size)
          if (size > resume) await handle.truncate(resume)
          return hashPrefix(handle, resume, hash)
        },
        catch: ioError(`Could not resume the partial download ${t.tempPath}`)
      }).pipe(Effect.tapError(() => closeQuietly(handle)))
      const accepted = yield* store
        .fileState({ ref: inRef(t.peer, t.id), state: "accepted", offset, now: yield* now })
        .pipe(
          Effect.mapError(storeError),
          Effect.tapError(() => closeQuietly(handle))
        )
      if (accepted.direction !== "in") return yield* closeQuietly(handle)
      const key = keyOf(t.peer, t.id)
      recent.delete(key)
      receiving.set(key, {
        ref: inRef(t.peer, t.id),
        transfer: accepted,
        channel: link.channel,
        handle,
        hash,
        offset,
        written: offset,
        ...idleReceiving
      })
      yield* sendQuietly(link, { _tag: "e2e.FileAccept", id: t.id, offset: BigInt(offset) })
      return true
    })

  /**
   * Starts `t`; over the open-file caps it waits instead (5.4.7): a new offer stays held (the user
   * may accept it once a file is done), an accepted one is answered on the sender's next offer.
   * Either way it counts against the peer's `perPeer` cap, beyond which offers are refused.
   */
  const startOrWait = (link: PeerLink, t: IncomingTransfer) =>
    Effect.gen(function* () {
      if (yield* start(link, t)) return
      yield* Effect.logWarning(
        `files: ${t.id} from ${t.peer} waits: ${ctx.caps.openPerPeer} files from one peer (or ${ctx.caps.openTotal} in all) are already arriving`
      )
    })

  /** Unfinished incoming transfers stored for `peer` (held, accepted, receiving, verifying). */
  const unfinishedFrom = (peer: Handle) =>
    Effect.map(store.transfers({ peer, active: true }), (ts) => ts.filter((t) => t.direction === "in").length).pipe(
      Effect.mapError(storeError)
    )

  /** `<FileOffer>`: record it (idempotent by id), then accept, resume, hold or answer a finished one. */
  const onOffer = (link: PeerLink, m: FileOffer) =>
    ctx.locked(refKey(inRef(link.peer, m.id)))(
      Effect.gen(function* () {
        const cancel = (reason: string) => sendQuietly(link, { _tag: "e2e.FileCancel", id: m.id, reason })
        // 5.4.6: a chunk that cannot fit one record with its 24-byte header, or a size this agent
        // cannot count exactly, is refused; the session goes on.
        const problem = offerProblem(m, MAX_FILE_CHUNK)
        if (problem !== undefined) {
          yield* Effect.logWarning(`files: refused ${m.id} from ${link.peer}: ${problem}`)
          return yield* cancel("bad_request")
        }
        // 5.4.7: a peer holds at most `caps.perPeer` unfinished offers; a resumed one is already counted.
        const known = yield* store.transfer(inRef(link.peer, m.id)).pipe(Effect.mapError(storeError))
        if (known === undefined && !mayStoreOffer(ctx.caps, yield* unfinishedFrom(link.peer))) {
          yield* Effect.logWarning(`files: refused ${m.id} from ${link.peer}: too many unfinished files`)
          return yield* cancel(TOO_MANY_TRANSFERS)
        }
        const offered = yield* store
          .receiveFileOffer({
            id: m.id,
            peer: link.peer,
            offeredName: m.name,
            size: Number(m.size),
            // Same pattern on the wire (Token) and in the store: checked by the codec.
            etag: m.etag as FileEtag,
            chunk: m.chunk,
            tempPath: partialPath(ctx.downloadsDir, link.peer, m.id),
            now: yield* now
          })
          .pipe(
            Effect.map((r) => r.transfer),
            Effect.catchTag("AgentStoreError", (e) =>
              e.reason === "Conflict" || e.reason === "InvalidArgument"
                ? Effect.as(cancel("bad_request"), undefined)
                : Effect.fail(storeError(e))
            )
          )
        if (offered === undefined) return
        switch (offered.state) {
          case "done":
            // The sender missed our `<FileAck>` (the session broke): say it again.
            return yield* sendQuietly(link, { _tag: "e2e.FileAck", id: m.id })
          case "cancelled":
          case "failed":
            return yield* cancel(offered.state)
          case "offered": {
            const accept = mayAutoAccept({
              wroteTo: yield* store.wroteTo(link.peer).pipe(Effect.mapError(storeError)),
              verified: yield* verifiedContact(ctx, link.peer),
              size: offered.size,
              policy: ctx.policy
            })
            // Held: the store's event tells the user, who may `accept` or cancel it.
            if (!accept) return
            return yield* startOrWait(link, offered)
          }
          default:
            // Offered twice on one session (say, once by `sendFile` and once on session up): the
            // first `<FileAccept>` stands; answering again would restart the sender mid-stream.
            if (receiving.get(keyOf(link.peer, m.id))?.channel === link.channel) return
            return yield* startOrWait(link, offered)
        }
      })
    )

  /** The user accepts a held offer; answered now if the sender is connected, else on its next offer. */
  const accept = (ref: TransferRef) =>
    ctx.locked(refKey(ref))(
      Effect.gen(function* () {
        const t = yield* store.transfer(ref).pipe(Effect.mapError(storeError))
        if (t === undefined || t.direction !== "in")
          return yield* new FileTransferError({
            reason: "NotFound",
            message: `No incoming file ${ref.id} from ${ref.peer}: check the id.`
          })
        if (isTerminalTransfer(t.state))
          return yield* new FileTransferError({
            reason: "BadRequest",
            message: `File ${ref.id} is already ${t.state}.`
          })
        const link = ctx.links.get(ref.peer)
        if (link !== undefined && !(yield* start(link, t)))
          return yield* new FileTransferError({
            reason: "BadRequest",
            message: `${ctx.caps.openPerPeer} files from ${ref.peer} (or ${ctx.caps.openTotal} in all) are already arriving: accept this one when one of them is done.`
          })
        if (link !== undefined) return
        yield* store.fileState({ ref, state: "accepted", now: yield* now }).pipe(Effect.mapError(storeError))
      })
    )

  return { onOffer, accept }
}
