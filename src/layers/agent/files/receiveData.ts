/**
 * Chunk writing on the receiving side (PROTOCOL.md §15; docs/PROTOCOL.md 5.4.4): each data record of an
 * accepted transfer is checked against the expected offset, hashed, and copied into the write buffer,
 * which is written to the partial file in the background as it fills.
 */
import { Effect, Either } from "effect"
import { decodeFileRecord, MAX_FILE_CHUNK, ulidFromFileIdBytes } from "../../../domain/agent/fileRecord.js"
import type { PeerLink } from "../core/plugin.js"
import { type FilesContext, now, refKey, sendQuietly, storeError } from "./context.js"
import { WRITE_BUFFER_BYTES, writeBuffers } from "./partialFile.js"
import { type ReceiveState, recordKey } from "./receiveState.js"

export const makeDataReceiver = (ctx: FilesContext, state: ReceiveState) => {
  const { store } = ctx
  const { receiving, recent, remember, flushInBackground, fail } = state

  /**
   * A data record: must belong to an accepted transfer and start at its expected offset (5.4.4).
   * The per-record work (checks, hashing, copying into the write buffer) is synchronous, hence
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
      // Buffers exist only while data flows: an accepted offer costs an open file, not 2 MiB.
      if (r.buffers === undefined) r.buffers = writeBuffers()
      r.buffers[r.active].set(record.bytes, r.pendingLength)
      r.pendingLength += record.bytes.length
      r.offset += record.bytes.length
      // Keep room for one more record of the largest size.
      const full = () => WRITE_BUFFER_BYTES - r.pendingLength < MAX_FILE_CHUNK
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
