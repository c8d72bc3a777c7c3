/**
 * The receiving half of file transfer (PROTOCOL.md §15; docs/PROTOCOL.md 5.4, 15.6; issue 4,
 * section 3): accept by policy, write data records into `downloads/.partial/<peer>/<id>` at the
 * expected offset while hashing them, and on `<FileDone sha256>` check size and that SHA-256 (the
 * sender's, hashed while it streamed) before moving the file into `downloads/` (name made safe,
 * never overwriting) and answering `<FileAck>`.
 *
 * A resumed transfer (the sender re-offers after a reconnect or restart) is accepted from the
 * smaller of the stored offset and the partial file's length, after re-hashing that prefix.
 */

import { createHash } from "node:crypto"
import { Effect, Either, Fiber } from "effect"
import { mayOpenTransfer, mayStoreOffer, offerProblem, TOO_MANY_TRANSFERS } from "../../../domain/agent/filePolicy.js"
import {
  decodeFileRecord,
  digestHex,
  fileIdBytes,
  fileIdKey,
  MAX_FILE_CHUNK,
  ulidFromFileIdBytes
} from "../../../domain/agent/fileRecord.js"
import {
  type FileEtag,
  type IncomingTransfer,
  isTerminalTransfer,
  type Sha256Hex,
  type TransferRef
} from "../../../domain/agent/transfers.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { FileDone, FileOffer } from "../../../domain/e2e/messages.js"
import type { PeerLink } from "../core/plugin.js"
import { placeWithoutOverwrite } from "../store/files.js"
import {
  type FilesContext,
  finish,
  now,
  partialPath,
  refKey,
  sendQuietly,
  stateForPeerCancel,
  storeError,
  verifiedContact
} from "./context.js"
import { closeQuietly, hashPrefix, ioError, openPartial, removeQuietly } from "./diskIo.js"
import { makeWriter, type Receiving, WRITE_BUFFER_BYTES, writeBuffers } from "./partialFile.js"
import { FileTransferError, mayAutoAccept } from "./policy.js"

/** How many ids of finished transfers are remembered to ignore records still in flight. */
const RECENT_LIMIT = 1024

export const makeReceiver = (ctx: FilesContext) => {
  const { store } = ctx
  /** By `peer \0 fileIdKey`: the per-record lookup. */
  const receiving = new Map<string, Receiving>()
  /** Transfers that just ended (or ids already complained about): their late records are dropped silently. */
  const recent = new Set<string>()
  const remember = (key: string) => {
    recent.add(key)
    if (recent.size > RECENT_LIMIT) recent.delete(recent.values().next().value!)
  }

  const inRef = (peer: Handle, id: Id): TransferRef => ({ direction: "in", peer, id })
  const recordKey = (peer: Handle, idKey: string) => `${peer}\u0000${idKey}`
  const keyOf = (peer: Handle, id: Id) => recordKey(peer, fileIdKey(fileIdBytes(id)))

  const { flush, flushInBackground } = makeWriter(store)

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
      if (r === undefined) return Effect.void
      const saved = keep
        ? flush(r).pipe(Effect.catchAll((e) => Effect.logWarning(`files: ${e.message}`)))
        : r.writing === undefined
          ? Effect.void
          : Effect.asVoid(Fiber.await(r.writing))
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

  /**
   * Opens the partial file, trims it to the resume point, re-hashes the prefix, stores `accepted`
   * and answers `<FileAccept offset>`.
   */
  const start = (link: PeerLink, t: IncomingTransfer) =>
    Effect.gen(function* () {
      yield* release(t.peer, t.id, true)
      if (!mayOpen(t.peer)) return false
      // Re-read: releasing may have saved more bytes.
      const current = (yield* store.transfer(inRef(t.peer, t.id)).pipe(Effect.mapError(storeError))) ?? t
      const receivedOffset = current.direction === "in" ? current.receivedOffset : t.receivedOffset
      const handle = yield* openPartial(t.tempPath)
      const hash = createHash("sha256")
      const offset = yield* Effect.tryPromise({
        try: async () => {
          const { size } = await handle.stat()
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
        buffers: undefined,
        active: 0,
        pendingLength: 0,
        writing: undefined,
        started: false
      })
      yield* sendQuietly(link, { _tag: "e2e.FileAccept", id: t.id, offset: BigInt(offset) })
      return true
    })

  /** Whether one more partial file may be opened for `peer` (5.4.7: caps per peer and in total). */
  const mayOpen = (peer: Handle) => {
    let ofPeer = 0
    for (const r of receiving.values()) if (r.ref.peer === peer) ofPeer++
    return mayOpenTransfer(ctx.caps, { peer: ofPeer, total: receiving.size })
  }

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

  return { onOffer, accept, onData, onDone, onCancel, stopIncoming, sessionDown, closeAll }
}
