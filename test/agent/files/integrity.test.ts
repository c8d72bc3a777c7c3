/**
 * A lying or confused sender: a flipped byte fails the SHA-256 check of `<FileDone>` (nothing lands
 * in downloads), records at the wrong offset or for transfers never accepted are refused, oversized
 * chunks and sizes are refused at the offer; a file that changes after its offer (etag) or while it
 * streams ends with file_changed.
 */
import { randomBytes } from "node:crypto"
import { closeSync, openSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { encodeFileRecord, fileIdBytes } from "../../../src/domain/agent/fileRecord.js"
import type { AppMessage } from "../../../src/domain/e2e/messages.js"
import type { PeerLink } from "../../../src/layers/agent/core/plugin.js"
import {
  alice,
  aliceId,
  bob,
  bobId,
  connect,
  freshId,
  inState,
  listFiles,
  makeSide,
  raw,
  refs,
  waitFor
} from "./harness.js"

describe("integrity", () => {
  it.live("a tampered byte: SHA-256 mismatch, failed on both sides, nothing in downloads", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        let records = 0
        // The sender lies: the third record carries one flipped bit.
        const tamper = (link: PeerLink): PeerLink => ({
          ...link,
          sendData: (data) => {
            records++
            if (records !== 3) return link.sendData(data)
            const copy = data.slice()
            copy[100]! ^= 0x01
            return link.sendData(copy)
          }
        })
        yield* connect({ side: a, hooks: { wrapLink: tamper } }, { side: b })
        const file = join(a.home, "contract.pdf")
        writeFileSync(file, randomBytes(500_000))
        const t = yield* a.files.sendFile(bob, file)
        const failed = yield* waitFor(b, refs(t.id).in, inState("failed"))
        expect(failed.detail).toContain("SHA-256")
        const sender = yield* waitFor(a, refs(t.id).out, inState("failed"))
        expect(sender.detail).toContain("sha256_mismatch")
        expect(listFiles(b.downloads)).toEqual([])
      })
    )
  )

  it.live("records at the wrong offset, or for a transfer never accepted, are refused", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const b = yield* makeSide(bobId)
        const good = freshId()
        const bad = freshId()
        const stray = freshId()
        const content = randomBytes(3000)
        const s = yield* connect(
          {
            raw: aliceId,
            use: (chan) =>
              Effect.gen(function* () {
                // Two records for an id never offered: one complaint, not two.
                yield* chan.sendData(encodeFileRecord(fileIdBytes(stray), 0, content))
                yield* chan.sendData(encodeFileRecord(fileIdBytes(stray), 3000, content))
                const seen: Array<AppMessage> = []
                const accepted = yield* chan
                  .send({
                    _tag: "e2e.FileOffer",
                    id: bad,
                    name: "a.bin",
                    size: 6000n,
                    etag: "raw-1",
                    chunk: 3000
                  })
                  .pipe(
                    Effect.zipRight(
                      raw.await(chan, (m) => {
                        seen.push(m)
                        return m._tag === "e2e.FileAccept" ? m : undefined
                      })
                    )
                  )
                expect(accepted.offset).toBe(0n)
                const refused = yield* raw.finish(chan, bad, content, 5)
                const second = yield* raw.offer(chan, good, "ok.bin", content)
                const ok = yield* raw.finish(chan, good, content)
                return { seen, refused, second, ok }
              })
          },
          { side: b }
        )
        const result = (yield* s.initiator.await.pipe(Effect.flatten)) as {
          seen: Array<AppMessage>
          refused: AppMessage
          second: AppMessage
          ok: AppMessage
        }
        expect(result.seen.filter((m) => m._tag === "e2e.FileCancel")).toEqual([
          { _tag: "e2e.FileCancel", id: stray, reason: "not_accepted" }
        ])
        expect(result.refused).toEqual({ _tag: "e2e.FileCancel", id: bad, reason: "bad_offset" })
        expect(yield* b.store.transfer({ direction: "in", peer: alice, id: bad })).toMatchObject({ state: "failed" })
        expect(result.ok).toEqual({ _tag: "e2e.FileAck", id: good })
        expect(listFiles(b.downloads)).toEqual(["ok.bin"])
      })
    )
  )

  it.live("the plain-call path for data records takes only the next record of a started transfer", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const b = yield* makeSide(bobId)
        const sent: Array<AppMessage> = []
        const link: PeerLink = {
          peer: alice,
          send: (m) => Effect.sync(() => void sent.push(m)),
          sendData: () => Effect.void,
          channel: undefined as never
        }
        const { plugin } = b.files
        const tryData = plugin.tryData!
        const id = freshId()
        const other = freshId()
        const content = randomBytes(5000)
        const record = (at: number, n = 1000, of = id) =>
          encodeFileRecord(fileIdBytes(of), at, content.subarray(at, Math.min(at + n, content.length)))
        for (const offered of [id, other])
          yield* plugin.onMessage(link, {
            _tag: "e2e.FileOffer",
            id: offered,
            name: `${offered}.bin`,
            size: 5000n,
            etag: "raw-1",
            chunk: 1000
          })
        expect(sent.filter((m) => m._tag === "e2e.FileAccept")).toHaveLength(2)
        // The first record starts the transfer (a store write): the effect's job.
        expect(tryData(link, record(0))).toBe(false)
        yield* plugin.onData(link, record(0))
        expect(tryData(link, record(1000))).toBe(true)
        // Declined, with nothing changed: a repeated or skipped offset, another transfer, a malformed
        // record, another peer, more than the offered size.
        expect(tryData(link, record(1000))).toBe(false)
        expect(tryData(link, record(3000))).toBe(false)
        expect(tryData(link, record(0, 1000, other))).toBe(false)
        expect(tryData(link, new Uint8Array(10))).toBe(false)
        expect(tryData({ ...link, peer: bob }, record(2000))).toBe(false)
        expect(tryData(link, encodeFileRecord(fileIdBytes(id), 2000, new Uint8Array(3001)))).toBe(false)
        expect(tryData(link, record(2000))).toBe(true)
        // The effect refuses what the plain call declined; the transfer is gone, so the call declines.
        yield* plugin.onData(link, record(4000))
        expect(sent.at(-1)).toEqual({ _tag: "e2e.FileCancel", id, reason: "bad_offset" })
        expect(tryData(link, record(3000))).toBe(false)
        expect(yield* b.store.transfer({ direction: "in", peer: alice, id })).toMatchObject({ state: "failed" })
        // The other transfer still takes its records, first through the effect, then the plain call.
        yield* plugin.onData(link, record(0, 1000, other))
        expect(tryData(link, record(1000, 1000, other))).toBe(true)
        expect(yield* b.store.transfer({ direction: "in", peer: alice, id: other })).toMatchObject({
          state: "receiving"
        })
      })
    )
  )

  it.live("an offer with a chunk over 65 512 or a size over 2^53 is refused with bad_request / too_large", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const b = yield* makeSide(bobId)
        const sent: Array<AppMessage> = []
        const link: PeerLink = {
          peer: alice,
          send: (m) => Effect.sync(() => void sent.push(m)),
          sendData: () => Effect.void,
          channel: undefined as never
        }
        const big = freshId()
        const huge = freshId()
        const offer = { _tag: "e2e.FileOffer", name: "x", etag: "raw-1" } as const
        yield* b.files.plugin.onMessage(link, { ...offer, id: big, size: 10n, chunk: 65_513 })
        yield* b.files.plugin.onMessage(link, { ...offer, id: huge, size: 2n ** 63n - 1n, chunk: 1024 })
        expect(sent).toEqual([
          { _tag: "e2e.FileCancel", id: big, reason: "bad_request" },
          { _tag: "e2e.FileCancel", id: huge, reason: "bad_request" }
        ])
        expect(yield* b.store.transfers()).toEqual([])
        // Not a file-transfer message: left to other plugins.
        expect(yield* b.files.plugin.onMessage(link, { _tag: "e2e.Ack", id: big })).toBe(false)
      })
    )
  )

  it.live("a file that shrinks after the offer fails with file_changed on both sides", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId, { policy: { _tag: "Never" } })
        yield* connect({ side: a }, { side: b })
        const file = join(a.home, "log.txt")
        writeFileSync(file, randomBytes(300_000))
        const t = yield* a.files.sendFile(bob, file)
        yield* waitFor(b, refs(t.id).in, inState("offered"))
        truncateSync(file, 100_000)
        yield* b.files.accept(refs(t.id).in)
        const sender = yield* waitFor(a, refs(t.id).out, inState("failed"))
        expect(sender.detail).toContain("changed since it was offered")
        const receiver = yield* waitFor(b, refs(t.id).in, inState("failed"))
        expect(receiver.detail).toContain("file_changed")
        expect(listFiles(b.downloads)).toEqual([])
      })
    )
  )

  it.live("a file rewritten in place after the offer (same size) fails by its etag, before any byte is sent", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId, { policy: { _tag: "Never" } })
        yield* connect({ side: a }, { side: b })
        const file = join(a.home, "notes.txt")
        writeFileSync(file, randomBytes(200_000))
        const t = yield* a.files.sendFile(bob, file)
        expect(t.etag).toMatch(/^[0-9a-f]{32}$/)
        yield* waitFor(b, refs(t.id).in, inState("offered"))
        // Same size, other bytes, a modification time moved on (as an editor's save would).
        writeFileSync(file, randomBytes(200_000))
        utimesSync(file, new Date(), new Date(Date.now() + 5_000))
        yield* b.files.accept(refs(t.id).in)
        const sender = yield* waitFor(a, refs(t.id).out, inState("failed"))
        expect(sender.detail).toContain("changed since it was offered")
        const receiver = yield* waitFor(b, refs(t.id).in, inState("failed"))
        expect(receiver.detail).toContain("file_changed")
        expect(receiver.direction === "in" && receiver.receivedOffset).toBe(0)
        expect(listFiles(b.downloads)).toEqual([])
      })
    )
  )

  it.live("a file written to while it streams fails with file_changed instead of arriving as a mix", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        const file = join(a.home, "growing.log")
        let records = 0
        // After the second record is out, something rewrites the file's first bytes in place.
        const writer = (link: PeerLink): PeerLink => ({
          ...link,
          sendData: (data) => {
            records++
            if (records === 2) {
              const fd = openSync(file, "r+")
              writeSync(fd, new Uint8Array(16).fill(7), 0, 16, 0)
              closeSync(fd)
              utimesSync(file, new Date(), new Date(Date.now() + 5_000))
            }
            return link.sendData(data)
          }
        })
        yield* connect({ side: a, hooks: { wrapLink: writer } }, { side: b })
        writeFileSync(file, randomBytes(500_000))
        const t = yield* a.files.sendFile(bob, file)
        const sender = yield* waitFor(a, refs(t.id).out, inState("failed"))
        expect(sender.detail).toContain("changed while it was sent")
        const receiver = yield* waitFor(b, refs(t.id).in, inState("failed"))
        expect(receiver.detail).toContain("file_changed")
        expect(listFiles(b.downloads)).toEqual([])
      })
    )
  )
})
