/**
 * The end of a transfer on the receiving side (PROTOCOL.md §15; docs/PROTOCOL.md 5.4, 15.6): on
 * `<FileDone sha256>` check the size and that SHA-256 (the sender's, hashed while it streamed), make
 * the file durable, then move it into `downloads/` (name made safe, never overwriting) and answer
 * `<FileAck>`. This runs between the sender's last byte and its `<FileAck>`, once per transfer: every
 * step that waits on another thread is one the sender waits for too (issue 15).
 */
import { Effect, Either } from "effect"
import { digestHex } from "../../../domain/agent/fileRecord.js"
import type { Sha256Hex } from "../../../domain/agent/transfers.js"
import type { FileDone } from "../../../domain/e2e/messages.js"
import type { PeerLink } from "../core/plugin.js"
import { placeWithoutOverwrite } from "../store/files.js"
import { type FilesContext, finish, now, refKey, sendQuietly, storeError } from "./context.js"
import { ioError, startIo } from "./diskIo.js"
import { syncAll } from "./partialFile.js"
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
        // Every byte was hashed as it arrived, so the digest is known now: a file that does not match
        // is discarded without syncing it. A copy is finished, so that a stray empty record that
        // arrives before `release` below can still be hashed (as nothing).
        const digest = r.hash.copy().digest("hex") as Sha256Hex
        const claimed = digestHex(m.sha256)
        if (digest !== claimed)
          return yield* fail(
            link,
            t,
            "sha256_mismatch",
            `The file from ${link.peer} does not match its SHA-256 (${claimed}, got ${digest}); it was discarded.`
          )
        // 5.4.3: durable (fsync) before it is placed. The sync runs in the thread pool while the store
        // hears `verifying` on this thread (a relaxed write), instead of after it.
        const flushed = yield* Effect.either(flush(r))
        if (Either.isLeft(flushed)) return yield* fail(link, t, "receiver_error", flushed.left.message)
        const synced = yield* startIo(() => syncAll(r), ioError(`Could not save ${t.tempPath}`))
        yield* store.fileState({ ref, state: "verifying", offset: r.written, now: yield* now }).pipe(
          Effect.mapError(storeError),
          Effect.tapError(() => Effect.ignore(synced))
        )
        const saved = yield* Effect.either(synced)
        if (Either.isLeft(saved)) return yield* fail(link, t, "receiver_error", saved.left.message)
        // The partial file is closed while it is placed (a link and an unlink, which need no open file).
        const [, placed] = yield* Effect.zip(
          release(link.peer, id, false),
          Effect.either(placeWithoutOverwrite({ from: t.tempPath, dir: ctx.downloadsDir, name: t.name })),
          { concurrent: true }
        )
        // Verified but not placeable (a full disk, a read-only downloads directory): say so, both ways.
        if (Either.isLeft(placed)) return yield* fail(link, t, "receiver_error", placed.left.message)
        yield* finish(store, ref, "done", undefined, placed.right, digest)
        yield* sendQuietly(link, { _tag: "e2e.FileAck", id })
      })
    )

  return onDone
}
