/** File transfers: offers both ways, the state machine, buffered progress and resume after a restart. */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { FileEtag, Sha256Hex, type TransferRef } from "../../../src/domain/agent/transfers.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import * as FastDb from "../../../src/layers/agent/store/fastDb.js"
import { migrations } from "../../../src/layers/agent/store/migrations.js"
import { bob, carol, drain, freshStore, newId, openStore, tempDir } from "./helpers.js"

const hash = (c: string) => Sha256Hex.make(c.repeat(64))
const etag = (c: string) => FileEtag.make(c.repeat(32))

describe("file transfers", () => {
  it.scoped("an outgoing transfer: offer (idempotent), accept at an offset, send, done; terminal is final", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const id = newId()
      const offer = {
        id,
        peer: bob,
        path: "/home/a/photo.jpg",
        name: "photo.jpg",
        size: 5000,
        etag: etag("a"),
        chunk: 1024,
        now: 1
      }
      const offered = yield* store.offerFile(offer)
      expect(offered).toMatchObject({ direction: "out", state: "offered", ackedOffset: 0, name: "photo.jpg" })
      expect(yield* store.offerFile({ ...offer, now: 2 })).toEqual(offered)
      expect((yield* Effect.flip(store.offerFile({ ...offer, etag: etag("b") }))).reason).toBe("Conflict")
      // The SHA-256 is unknown until the file has streamed; fileState records it (5.4.3).
      expect(offered.sha256).toBeNull()

      const ref: TransferRef = { direction: "out", peer: bob, id }
      expect(yield* store.fileState({ ref, state: "accepted", offset: 2048, now: 3 })).toMatchObject({
        state: "accepted",
        ackedOffset: 2048
      })
      yield* store.fileState({ ref, state: "sending", now: 4 })
      yield* store.fileProgress({ ref, offset: 5000, now: 5 })
      expect(yield* store.fileState({ ref, state: "sending", sha256: hash("f"), now: 5 })).toMatchObject({
        sha256: hash("f")
      })
      const done = yield* store.fileState({ ref, state: "done", now: 6 })
      expect(done).toMatchObject({ state: "done", ackedOffset: 5000, updatedAt: 6, sha256: hash("f") })
      expect(yield* store.fileState({ ref, state: "done", now: 7 })).toEqual(done)
      const refused = yield* Effect.flip(store.fileState({ ref, state: "failed", detail: "late", now: 8 }))
      expect(refused.reason).toBe("InvalidTransition")
      expect(refused.message).toContain("already done")
      // A late progress report for a finished transfer changes nothing.
      yield* store.fileProgress({ ref, offset: 10, now: 9 })
      expect(yield* store.transfer(ref)).toEqual(done)
      // States of the other direction are refused.
      expect((yield* Effect.flip(store.fileState({ ref, state: "verifying", now: 9 }))).reason).toBe("InvalidArgument")
    })
  )

  it.scoped("an incoming offer is stored under a safe name; the resumed offer comes back as existing", () =>
    Effect.gen(function* () {
      const { store, dir } = yield* freshStore()
      const id = newId()
      const offer = {
        id,
        peer: bob,
        offeredName: "../../.ssh/authorized_keys",
        size: 1_000_000,
        etag: etag("c"),
        chunk: 65_536,
        tempPath: join(dir, "downloads", ".partial", `${id}.part`),
        now: 1
      }
      const first = yield* store.receiveFileOffer(offer)
      expect(first.outcome).toBe("new")
      expect(first.transfer).toMatchObject({
        name: "authorized_keys",
        offeredName: offer.offeredName,
        receivedOffset: 0
      })
      const ref: TransferRef = { direction: "in", peer: bob, id }
      yield* store.fileState({ ref, state: "receiving", now: 2 })
      yield* store.fileProgress({ ref, offset: 300_000, now: 3 })
      const again = yield* store.receiveFileOffer({ ...offer, now: 4 })
      expect(again).toMatchObject({ outcome: "existing", transfer: { state: "receiving", receivedOffset: 300_000 } })
      expect((yield* Effect.flip(store.receiveFileOffer({ ...offer, size: 5 }))).reason).toBe("Conflict")
      // The same id from another peer is another transfer.
      expect((yield* store.receiveFileOffer({ ...offer, peer: carol })).outcome).toBe("new")

      yield* store.fileState({ ref, state: "verifying", now: 5 })
      const done = yield* store.fileState({ ref, state: "done", finalPath: "/x/authorized_keys", now: 6 })
      expect(done).toMatchObject({ state: "done", finalPath: "/x/authorized_keys" })
      expect((yield* store.transfers({ active: true })).map((t) => t.peer)).toEqual([carol])
      expect((yield* store.transfers({ peer: bob })).map((t) => t.state)).toEqual(["done"])
    })
  )

  it.scoped("progress is buffered, written by threshold, saved on close, and resumes after a restart", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, AgentStoreLive.DATABASE_FILE)
      const progress = { persistBytes: 100, persistMs: 1000 }
      const id = newId()
      const ref: TransferRef = { direction: "in", peer: bob, id }
      // A second connection on the same file sees only what was written.
      const observer = yield* openStore(file)
      const storedOffset = Effect.map(observer.transfer(ref), (t) => (t?.direction === "in" ? t.receivedOffset : -1))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* openStore(file, { progress })
          yield* store.receiveFileOffer({
            id,
            peer: bob,
            offeredName: "big.bin",
            size: 1000,
            etag: etag("d"),
            chunk: 10,
            tempPath: join(dir, "big.part"),
            now: 0
          })
          yield* store.fileProgress({ ref, offset: 50, now: 10 })
          expect(yield* storedOffset).toBe(0)
          expect(yield* store.transfer(ref)).toMatchObject({ receivedOffset: 50 })
          yield* store.fileProgress({ ref, offset: 120, now: 20 })
          expect(yield* storedOffset).toBe(120)
          yield* store.fileProgress({ ref, offset: 130, now: 30 })
          expect(yield* storedOffset).toBe(120)
          yield* store.fileProgress({ ref, offset: 140, now: 1030 })
          expect(yield* storedOffset).toBe(140)
          yield* store.fileProgress({ ref, offset: 150, now: 1040 })
          expect(yield* storedOffset).toBe(140)
          const bad = yield* Effect.flip(store.fileProgress({ ref, offset: 1001, now: 1050 }))
          expect(bad.reason).toBe("InvalidArgument")
          const unknown = yield* Effect.flip(store.fileProgress({ ref: { ...ref, id: newId() }, offset: 1, now: 1 }))
          expect(unknown.reason).toBe("NotFound")
        })
      )
      // Closing the store saved the last offset.
      expect(yield* storedOffset).toBe(150)
      const store = yield* openStore(file, { progress })
      const [active] = yield* store.transfers({ active: true })
      expect(active).toMatchObject({ id, direction: "in", receivedOffset: 150, state: "offered" })
      // A restart from scratch (hash mismatch) resets the offset explicitly.
      expect(yield* store.fileState({ ref, state: "accepted", offset: 0, now: 2000 })).toMatchObject({
        receivedOffset: 0
      })
    })
  )

  it.scoped("the periodic progress write sets offset and time, and leaves a row that is finished alone", () =>
    Effect.gen(function* () {
      const { store, file } = yield* freshStore({ progress: { persistBytes: 100, persistMs: 1000 } })
      const raw = yield* FastDb.open(file, 1000)
      const id = newId()
      const ref: TransferRef = { direction: "out", peer: bob, id }
      const row = () =>
        raw.read("SELECT byte_offset, updated_at FROM transfers WHERE direction = 'out' AND id = ?", [id])[0]
      yield* store.offerFile({ id, peer: bob, path: "/f", name: "f", size: 1000, etag: etag("g"), chunk: 10, now: 1 })
      yield* store.fileProgress({ ref, offset: 50, now: 2 })
      expect(row()).toEqual({ byte_offset: 0, updated_at: 1 })
      yield* store.fileProgress({ ref, offset: 150, now: 3 })
      expect(row()).toEqual({ byte_offset: 150, updated_at: 3 })
      // Finished behind the store's back (another process): the next write must not touch the row.
      raw.write("durable", (q) => q.all("UPDATE transfers SET state = 'done' WHERE id = ?", [id]))
      yield* store.fileProgress({ ref, offset: 300, now: 4 })
      expect(row()).toEqual({ byte_offset: 150, updated_at: 3 })
    })
  )

  it.scoped("progress events are throttled by bytes and time, the last one always sent", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore({ progress: { publishBytes: 100, publishMs: 50 } })
      const id = newId()
      yield* store.offerFile({ id, peer: bob, path: "/f", name: "f", size: 300, etag: etag("e"), chunk: 10, now: 0 })
      const feed = yield* store.subscribe
      const ref: TransferRef = { direction: "out", peer: bob, id }
      for (let offset = 10; offset <= 300; offset += 10) yield* store.fileProgress({ ref, offset, now: 0 })
      yield* store.fileProgress({ ref, offset: 300, now: 60 })
      const offsets = (yield* drain(feed)).map((e) => (e._tag === "agent.TransferProgress" ? e.offset : -1))
      expect(offsets).toEqual([100, 200, 300, 300])
    })
  )

  it.scoped("migration 5: a store of before issue 15 keeps finished transfers and ends unfinished ones", () =>
    Effect.gen(function* () {
      const file = join(yield* tempDir, "agent.db")
      // The schema of migrations 1 to 3, with one finished and one unfinished transfer in the old form.
      const db = new Database(file)
      for (const m of migrations.filter((m) => m.id <= 3)) for (const s of m.statements) db.exec(s)
      db.exec("CREATE TABLE agent_schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
      db.exec("INSERT INTO agent_schema_migrations (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')")
      db.prepare("INSERT INTO contacts (handle, created_at) VALUES (?, 0)").run(bob)
      const [done, open] = [newId(), newId()]
      const insert = db.prepare(
        `INSERT INTO transfers (direction, id, peer, name, offered_name, size, sha256, chunk, path, byte_offset,
          state, created_at, updated_at) VALUES ('out', ?, ?, 'f', 'f', 10, ?, 10, '/f', ?, ?, 0, 0)`
      )
      insert.run(done, bob, hash("a"), 10, "done")
      insert.run(open, bob, hash("b"), 4, "sending")
      db.close()

      const store = yield* openStore(file)
      const [first, second] = yield* store.transfers()
      expect(first).toMatchObject({ id: done, state: "done", sha256: hash("a"), etag: "pre-v5" })
      expect(second).toMatchObject({ id: open, state: "failed", ackedOffset: 4 })
      expect(second?.detail).toContain("send the file again")
      expect(yield* store.transfers({ active: true })).toEqual([])
    })
  )
})
