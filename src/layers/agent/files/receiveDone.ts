/**
 * The end of a transfer on the receiving side (PROTOCOL.md §15; docs/PROTOCOL.md 5.4, 15.6): on
 * `<FileDone sha256>` check the size and that SHA-256 (the sender's, hashed while it streamed) before
 * moving the file into `downloads/` (name made safe, never overwriting) and answering `<FileAck>`.
 */
import { Effect, Either } from "effect"
import { digestHex } from "../../../domain/agent/fileRecord.js"
import type { Sha256Hex } from "../../../domain/agent/transfers.js"
import type { FileDone } from "../../../domain/e2e/messages.js"
import type { PeerLink } from "../core/plugin.js"
import { placeWithoutOverwrite } from "../store/files.js"
import { type FilesContext, finish, now, refKey, sendQuietly, storeError } from "./context.js"
import { ioError } from "./diskIo.js"
import { inRef, keyOf, type ReceiveState } from "./receiveState.js"

export const makeDoneReceiver = (ctx: FilesContext, state: ReceiveState) => {
  const { store } = ctx
  const { receiving, flush, release, fail } = state

  /** `<FileDone sha256>`: verify size and SHA-256, then place the file and acknowledge it. */
  const onDone = (link: PeerLink, m: FileDone) =>
    ctx.locked(refKey(inRef(link.peer, m.id)))(
      Effect.gen(function* () {
        const id = m.id
        const ref = inRef(link.peer, id)
        const r = receiving.get(keyOf(link.peer, id))
        if (r === undefined) {
          const t = yield* store.transfer(ref).pipe(Effect.mapError(storeError))
          if (t?.state === "done") return yield* sendQuietly(link, { _tag: "e2e.FileAck", id })
          if (t === undefined)
            return yield* sendQuietly(link, { _tag: "e2e.FileCancel", id, reason: "unknown_transfer" })
          return
        }
        const t = r.transfer
        if (r.offset !== t.size)
          return yield* fail(link, t, "size_mismatch", `${link.peer} finished after ${r.offset} of ${t.size} bytes.`)
        const saved = yield* Effect.either(
          Effect.zipRight(
            flush(r),
            Effect.tryPromise({ try: () => r.handle.sync(), catch: ioError(`Could not save ${t.tempPath}`) })
          )
        )
        if (Either.isLeft(saved)) return yield* fail(link, t, "receiver_error", saved.left.message)
        yield* store
          .fileState({ ref, state: "verifying", offset: r.written, now: yield* now })
          .pipe(Effect.mapError(storeError))
        yield* release(link.peer, id, false)
        const digest = r.hash.digest("hex") as Sha256Hex
        const claimed = digestHex(m.sha256)
        if (digest !== claimed)
          return yield* fail(
            link,
            t,
            "sha256_mismatch",
            `The file from ${link.peer} does not match its SHA-256 (${claimed}, got ${digest}); it was discarded.`
          )
        const placed = yield* Effect.either(
          placeWithoutOverwrite({ from: t.tempPath, dir: ctx.downloadsDir, name: t.name })
        )
        // Verified but not placeable (a full disk, a read-only downloads directory): say so, both ways.
        if (Either.isLeft(placed)) return yield* fail(link, t, "receiver_error", placed.left.message)
        yield* finish(store, ref, "done", undefined, placed.right, digest)
        yield* sendQuietly(link, { _tag: "e2e.FileAck", id })
      })
    )

  return onDone
}
