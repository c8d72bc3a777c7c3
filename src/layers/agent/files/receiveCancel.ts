/**
 * Cancel and pause on the receiving side (PROTOCOL.md §15): the user's or the peer's `<FileCancel>`
 * ends a live transfer and removes its partial file; a session that ends pauses its transfers, which
 * the sender resumes by offering again (see `receiveOffer.ts`).
 */
import { Effect } from "effect"
import { type IncomingTransfer, isTerminalTransfer } from "../../../domain/agent/transfers.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { PeerLink } from "../core/plugin.js"
import { type FilesContext, finish, refKey, stateForPeerCancel, storeError } from "./context.js"
import { removeQuietly } from "./diskIo.js"
import { inRef, keyOf, type ReceiveState } from "./receiveState.js"

export const makeCancelAndPause = (ctx: FilesContext, state: ReceiveState) => {
  const { store } = ctx
  const { receiving, flush, release } = state

  /** Stops a live incoming transfer (the user, or the peer's `<FileCancel>`), removing the partial file. */
  const stopIncoming = (t: IncomingTransfer, state: "cancelled" | "failed", detail: string) =>
    ctx.locked(refKey(inRef(t.peer, t.id)))(
      Effect.gen(function* () {
        yield* release(t.peer, t.id, false)
        yield* removeQuietly(t.tempPath)
        return yield* finish(store, inRef(t.peer, t.id), state, detail)
      })
    )

  /** `<FileCancel>` about a file the peer offered us; `false` when there is no such live transfer. */
  const onCancel = (peer: Handle, id: Id, reason: string | undefined) =>
    Effect.gen(function* () {
      const t = yield* store.transfer(inRef(peer, id)).pipe(Effect.mapError(storeError))
      if (t === undefined || t.direction !== "in" || isTerminalTransfer(t.state)) return false
      const state = stateForPeerCancel(reason) as "cancelled" | "failed"
      yield* stopIncoming(
        t,
        state,
        `${peer} ${state === "failed" ? "stopped sending" : "cancelled"} the file (${reason ?? "no reason given"}).`
      )
      return true
    })

  /**
   * A session with `peer` ended: write out what is buffered, so the stored offset is current. The
   * transfers accepted on `channel` (the session that ended) also close their partial files, freeing
   * descriptors and buffers (issue 10, section 5); the sender re-offers on its next session and
   * `start` reopens the file and resumes from it. Without `channel` (a late notice that cannot say
   * which session ended) only the flush happens: a replacing session's files stay open.
   */
  const sessionDown = (peer: Handle, channel?: PeerLink["channel"]) =>
    Effect.suspend(() =>
      Effect.forEach(
        [...receiving.values()].filter((r) => r.ref.peer === peer),
        (r) =>
          ctx.locked(refKey(r.ref))(
            Effect.suspend(() =>
              receiving.get(keyOf(peer, r.ref.id)) !== r
                ? Effect.void
                : channel !== undefined && r.channel === channel
                  ? release(peer, r.ref.id, true)
                  : flush(r).pipe(Effect.catchAll((e) => Effect.logWarning(`files: ${e.message}`)))
            )
          ),
        { discard: true }
      )
    )

  /** Saves what is buffered and closes every open file (the plugin's scope ends). */
  const closeAll = Effect.suspend(() =>
    Effect.forEach([...receiving.values()], (r) => release(r.ref.peer, r.ref.id, true), { discard: true })
  )

  return { stopIncoming, onCancel, sessionDown, closeAll }
}
