/**
 * The sending half of file transfer (PROTOCOL.md §15; docs/PROTOCOL.md 5.4 and 15.6): offer, stream
 * data records from the receiver's offset, `<FileDone>`, and wait for `<FileAck>`.
 *
 * The offer is idempotent by id, so it is (re)sent on every session up while the transfer is not
 * finished; the receiver answers with the offset it has, and streaming resumes from there. A broken
 * session pauses the transfer (back to `offered`).
 *
 * The file is read once (issue 15): the offer names it by size and etag (5.4.1), the bytes are
 * hashed as they are read for sending, and the SHA-256 goes out in `<FileDone>`. A resumed stream
 * first re-hashes the prefix the receiver already has. The etag is checked when a stream starts and
 * again after the last byte, so a file changed since the offer, or while it was read, ends the
 * transfer with `file_changed` instead of delivering a mix.
 */

import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Either, FiberMap } from "effect"
import { safeFileName } from "../../../domain/agent/fileName.js"
import { FILE_RECORD_HEADER_BYTES, fileIdBytes, writeFileRecordHeader } from "../../../domain/agent/fileRecord.js"
import {
  isTerminalTransfer,
  type OutgoingTransfer,
  type Sha256Hex,
  type TransferRef
} from "../../../domain/agent/transfers.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { FileAccept, FileOffer } from "../../../domain/e2e/messages.js"
import type { PeerLink } from "../core/plugin.js"
import {
  type FilesContext,
  finish,
  logFailure,
  now,
  refKey,
  sendQuietly,
  stateForPeerCancel,
  storeError
} from "./context.js"
import {
  chunkViews,
  closeQuietly,
  fileEtag,
  hashPrefix,
  ioError,
  readScatteredSync,
  statForOffer,
  statOpen
} from "./diskIo.js"

export const offerOf = (t: OutgoingTransfer): FileOffer => ({
  _tag: "e2e.FileOffer",
  id: t.id,
  name: t.name,
  size: BigInt(t.size),
  etag: t.etag,
  chunk: t.chunk
})

/** Chunks read from the file at once (about 2 MiB with the default chunk). */
const READ_BATCH = 32

/** How streaming ended: all sent, paused by a broken session, or failed (with the `<FileCancel>` reason). */
type StreamEnd =
  | { readonly _tag: "Sent" }
  | { readonly _tag: "Paused" }
  | { readonly _tag: "Failed"; readonly reason: string; readonly detail: string }

export const makeSender = (ctx: FilesContext, streams: FiberMap.FiberMap<string>) => {
  const { store } = ctx

  const outRef = (peer: Handle, id: Id): TransferRef => ({ direction: "out", peer, id })

  /**
   * Transfers whose `<FileDone>` went out and whose `<FileAck>` has not come back, with the session
   * that carried it: if that session ends first, the transfer pauses (`sessionDown`) like one whose
   * stream broke, rather than stay `sending` until a session comes up again.
   */
  const awaitingAck = new Map<string, { readonly ref: TransferRef; readonly channel: PeerLink["channel"] }>()
  /** Sessions `sessionDown` was told of: a `<FileDone>` sent on one after that was lost with it. */
  const ended = new WeakSet<PeerLink["channel"]>()

  /** Back to `offered` (paused), unless it finished or was never started. */
  const pause = (ref: TransferRef) =>
    Effect.gen(function* () {
      const t = yield* store.transfer(ref).pipe(Effect.mapError(storeError))
      if (t === undefined || t.state === "offered" || isTerminalTransfer(t.state)) return
      yield* store.fileState({ ref, state: "offered", now: yield* now }).pipe(Effect.mapError(storeError))
    })

  /**
   * Streams `t` from `from` over `link` in records of `t.chunk` bytes through one fixed buffer (about
   * 2 MiB for the whole file, whatever its size); every `sendData` waits for the channel
   * (back-pressure). Each batch is read from the page cache just before it is sent (see below).
   */
  const stream = (link: PeerLink, t: OutgoingTransfer, from: number) => {
    const ref = outRef(t.peer, t.id)
    const changed = (when: string): StreamEnd => ({
      _tag: "Failed",
      reason: "file_changed",
      detail: `${t.path} changed ${when}: send it again.`
    })
    const unchanged = (handle: fs.FileHandle) =>
      Effect.try({
        try: () => fileEtag(statOpen(handle)) === t.etag,
        catch: ioError(`Could not read ${t.path}`)
      })
    const send = Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => fs.open(t.path, "r"), catch: ioError(`Could not open ${t.path}`) }),
      (handle) =>
        Effect.gen(function* () {
          if (!(yield* unchanged(handle))) return changed("since it was offered")
          // The SHA-256 of the whole file: the prefix the receiver has (re-read on a resume), then
          // every batch as it is read for sending.
          const hash = createHash("sha256")
          if (from > 0) {
            const hashed = yield* Effect.tryPromise({
              try: () => hashPrefix(handle, from, hash),
              catch: ioError(`Could not read ${t.path}`)
            })
            if (hashed < from) return changed("since it was offered")
          }
          // A fixed buffer laid out as records, `header || chunk` READ_BATCH times: one scattered read
          // per batch puts each chunk behind the room for its header, so a record goes to the channel in
          // place, without a copy (issue 15). The read runs here, just before the batch is hashed and
          // sealed, not in the thread pool: there it filled the buffer from another core, and the
          // hashing and sealing then paid for those cache lines (sender CPU per MiB 7-16 % lower this
          // way in alternated runs; docs/BENCHMARKS.md, sixth session). Sealing copies every record
          // out of the buffer, so the next batch may be read into it as soon as the last one is sent.
          const stride = FILE_RECORD_HEADER_BYTES + t.chunk
          const batch = new Uint8Array(stride * READ_BATCH)
          const idBytes = fileIdBytes(t.id)
          const readBatch = (at: number, want: number) =>
            Either.try({
              try: () => readScatteredSync(handle, chunkViews(batch, FILE_RECORD_HEADER_BYTES, t.chunk, want), at),
              catch: ioError(`Could not read ${t.path}`)
            })
          for (let at = from; ; ) {
            const want = Math.min(t.chunk * READ_BATCH, t.size - at)
            const got = yield* readBatch(at, want)
            if (got < want) {
              const detail = `${t.path} became shorter while it was sent: send it again.`
              return { _tag: "Failed", reason: "file_changed", detail } as StreamEnd
            }
            for (let o = 0, base = 0; o < want; o += t.chunk, base += stride) {
              const n = Math.min(t.chunk, want - o)
              const record = batch.subarray(base, base + FILE_RECORD_HEADER_BYTES + n)
              hash.update(record.subarray(FILE_RECORD_HEADER_BYTES))
              writeFileRecordHeader(record, idBytes, at + o)
              // Uninterruptible: a record sealed but never written would desynchronise the channel's
              // sequence numbers; a stop takes effect between records.
              yield* Effect.uninterruptible(link.sendData(record))
            }
            at += want
            yield* store.fileProgress({ ref, offset: at, now: yield* now })
            if (at >= t.size) break
          }
          // Read to the end: the file must still be the one offered, or the receiver gets a mix.
          if (!(yield* unchanged(handle))) return changed("while it was sent")
          const sha256 = hash.digest()
          yield* store.fileState({
            ref,
            state: "sending",
            sha256: sha256.toString("hex") as Sha256Hex,
            now: yield* now
          })
          yield* link.send({ _tag: "e2e.FileDone", id: t.id, sha256 })
          // The session may have ended while the last records were sent (a send can still succeed
          // into a connection that is going away): then this transfer pauses here or in `sessionDown`.
          if (ended.has(link.channel)) return { _tag: "Paused" } as StreamEnd
          awaitingAck.set(refKey(ref), { ref, channel: link.channel })
          return { _tag: "Sent" } as StreamEnd
        }),
      closeQuietly
    )
    return send.pipe(
      Effect.catchTags({
        ChannelError: (e) =>
          Effect.as(Effect.logDebug(`files: sending ${t.id} to ${t.peer} paused: ${e.message}`), {
            _tag: "Paused"
          } as StreamEnd),
        FileTransferError: (e) =>
          Effect.succeed({ _tag: "Failed", reason: "file_unavailable", detail: e.message } as StreamEnd),
        AgentStoreError: (e) =>
          Effect.succeed({ _tag: "Failed", reason: "sender_error", detail: e.message } as StreamEnd)
      }),
      Effect.flatMap((end) =>
        end._tag === "Sent"
          ? Effect.void
          : end._tag === "Paused"
            ? // The session broke: the transfer waits for the receiver's next `<FileAccept>`.
              pause(ref)
            : Effect.zipRight(
                finish(store, ref, "failed", end.detail),
                sendQuietly(link, { _tag: "e2e.FileCancel", id: t.id, reason: end.reason })
              )
      ),
      logFailure(`sending ${t.id}`)
    )
  }

  /** Stops the stream of a transfer (waits until it is off the channel). */
  const stop = (ref: TransferRef) =>
    Effect.zipRight(
      Effect.sync(() => awaitingAck.delete(refKey(ref))),
      FiberMap.remove(streams, refKey(ref))
    )

  /**
   * The session `channel` with `peer` ended: transfers that sent `<FileDone>` on it and heard nothing
   * pause (back to `offered`); the next session re-offers them and the receiver answers `<FileAck>`
   * if it kept the file, or the offset to resume from.
   */
  const sessionDown = (peer: Handle, channel: PeerLink["channel"]) =>
    Effect.flatMap(
      Effect.sync(() => {
        ended.add(channel)
        return [...awaitingAck.entries()].filter(([, w]) => w.ref.peer === peer && w.channel === channel)
      }),
      (waiting) =>
        Effect.forEach(
          waiting,
          ([key, w]) =>
            ctx.locked(key)(
              Effect.suspend(() => {
                if (awaitingAck.get(key) !== w) return Effect.void
                awaitingAck.delete(key)
                return logFailure(`pausing ${w.ref.id}`)(pause(w.ref))
              })
            ),
          { discard: true }
        )
    )

  /** `<FileAccept id offset>`: stream from the receiver's offset (0 starts, more resumes). */
  const onAccept = (link: PeerLink, m: FileAccept) =>
    ctx.locked(refKey(outRef(link.peer, m.id)))(
      Effect.gen(function* () {
        const ref = outRef(link.peer, m.id)
        const t = yield* store.transfer(ref).pipe(Effect.mapError(storeError))
        if (t === undefined || t.direction !== "out") {
          return yield* sendQuietly(link, { _tag: "e2e.FileCancel", id: m.id, reason: "unknown_transfer" })
        }
        if (t.state === "done") return
        if (isTerminalTransfer(t.state)) {
          return yield* sendQuietly(link, {
            _tag: "e2e.FileCancel",
            id: m.id,
            reason: t.state === "failed" ? "failed" : "cancelled"
          })
        }
        if (m.offset > BigInt(t.size)) {
          yield* finish(store, ref, "failed", `${link.peer} asked for offset ${m.offset} of a ${t.size}-byte file.`)
          return yield* sendQuietly(link, { _tag: "e2e.FileCancel", id: m.id, reason: "bad_request" })
        }
        const from = Number(m.offset)
        yield* stop(ref)
        const sending = yield* store
          .fileState({ ref, state: "sending", offset: from, now: yield* now })
          .pipe(Effect.mapError(storeError))
        if (sending.direction !== "out") return
        yield* FiberMap.run(streams, refKey(ref), stream(link, sending, from))
      })
    )

  /** `<FileAck>`: the receiver checked the SHA-256 of `<FileDone>` and kept the file. */
  const onAck = (link: PeerLink, id: Id) =>
    Effect.gen(function* () {
      const ref = outRef(link.peer, id)
      yield* stop(ref)
      yield* finish(store, ref, "done")
    })

  /** `<FileCancel>` about one of our offers; `false` when there is no such live transfer. */
  const onCancel = (peer: Handle, id: Id, reason: string | undefined) =>
    Effect.gen(function* () {
      const ref = outRef(peer, id)
      const t = yield* store.transfer(ref).pipe(Effect.mapError(storeError))
      if (t === undefined || isTerminalTransfer(t.state)) return false
      yield* stop(ref)
      const state = stateForPeerCancel(reason)
      yield* finish(
        store,
        ref,
        state as "cancelled" | "failed",
        `${peer} ${state === "failed" ? "refused" : "cancelled"} the file (${reason ?? "no reason given"}).`
      )
      return true
    })

  /**
   * Stores a new offer and sends it when a session is up; `offered` is false when there was none
   * (or it turned out to be dead), so the caller can ask for one.
   */
  const sendFile = (peer: Handle, file: string, id: Id, link: PeerLink | undefined) =>
    Effect.gen(function* () {
      const absolute = path.resolve(file)
      const { size, etag } = yield* statForOffer(absolute)
      const t = yield* store
        .offerFile({
          id,
          peer,
          path: absolute,
          name: safeFileName(path.basename(absolute)),
          size,
          etag,
          chunk: ctx.chunk,
          now: yield* now
        })
        .pipe(Effect.mapError(storeError))
      const live = link ?? ctx.links.get(peer)
      const offered =
        live !== undefined &&
        (yield* live.send(offerOf(t)).pipe(
          Effect.as(true),
          Effect.catchAll(() => Effect.succeed(false))
        ))
      return { transfer: t, offered }
    })

  /** A session is up: (re)offer every unfinished outgoing transfer to that peer, oldest first. */
  const sessionUp = (link: PeerLink) =>
    Effect.gen(function* () {
      const active = yield* store.transfers({ peer: link.peer, active: true }).pipe(Effect.mapError(storeError))
      for (const t of active) if (t.direction === "out") yield* sendQuietly(link, offerOf(t))
    })

  return { onAccept, onAck, onCancel, sendFile, sessionDown, sessionUp, stop }
}
