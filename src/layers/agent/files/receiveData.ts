/**
 * Chunk writing on the receiving side (PROTOCOL.md §15; docs/PROTOCOL.md 5.4.4): each data record of an
 * accepted transfer is checked against the expected offset, hashed, and kept for the next gathered
 * write to the partial file, which runs in the background once about 1 MiB is pending.
 */
import { Effect, Either } from "effect"
import { decodeFileRecord, ulidFromFileIdBytes } from "../../../domain/agent/fileRecord.js"
import type { PeerLink } from "../core/plugin.js"
import { type FilesContext, now, refKey, sendQuietly, storeError } from "./context.js"
import { writeDue } from "./partialFile.js"
import { type ReceiveState, recordKey } from "./receiveState.js"

export const makeDataReceiver = (ctx: FilesContext, state: ReceiveState) => {
  const { store } = ctx
  const { receiving, recent, remember, flushInBackground, fail } = state

  /**
   * A data record: must belong to an accepted transfer and start at its expected offset (5.4.4).
   * The per-record work (checks, hashing, queueing for the next write) is synchronous, hence
   * atomic with respect to every other fiber, and takes no lock; only a buffer switch, the first
   * record and a refusal take the transfer's lock.
   */
  const onData = (link: PeerLink, data: Uint8Array) =>
    Effect.suspend(() => {
      const decoded = decodeFileRecord(data)
      if (Either.isLeft(decoded))
        return Effect.logWarning(`files: ${link.peer} sent a malformed data record: ${decoded.left}`)
      const record = decoded.right
      const key = recordKey(link.peer, record.idKey)
      const r = receiving.get(key)
      if (r === undefined) {
        if (recent.has(key)) return Effect.void
        remember(key)
        // Not accepted (held, unknown or finished long ago): tell the sender once, by the id's ULID form.
        return sendQuietly(link, {
          _tag: "e2e.FileCancel",
          id: ulidFromFileIdBytes(record.idBytes),
          reason: "not_accepted"
        })
      }
      const t = r.transfer
      const locked = <E>(effect: Effect.Effect<void, E>) =>
        ctx.locked(refKey(r.ref))(Effect.suspend(() => (receiving.get(key) === r ? effect : Effect.void)))
      if (record.offset !== r.offset)
        return locked(
          fail(link, t, "bad_offset", `${link.peer} sent bytes at offset ${record.offset}, expected ${r.offset}.`)
        )
      if (r.offset + record.bytes.length > t.size)
        return locked(fail(link, t, "too_long", `${link.peer} sent more than the ${t.size} bytes it offered.`))
      r.hash.update(record.bytes)
      // Kept as it arrived (fresh memory from the channel), written with the next batch: no copy.
      r.pending.push(record.bytes)
      r.pendingLength += record.bytes.length
      r.offset += record.bytes.length
      const full = () => writeDue(r)
      if (r.started && !full()) return Effect.void
      return locked(
        Effect.gen(function* () {
          if (full()) {
            const flushed = yield* Effect.either(flushInBackground(r))
            if (Either.isLeft(flushed)) return yield* fail(link, t, "receiver_error", flushed.left.message)
          }
          if (!r.started) {
            r.started = true
            yield* store
              .fileState({ ref: r.ref, state: "receiving", offset: r.written, now: yield* now })
              .pipe(Effect.mapError(storeError))
          }
        })
      )
    })

  return onData
}
