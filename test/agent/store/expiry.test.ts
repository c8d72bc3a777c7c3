/**
 * Outbox expiry in the store (issue 13, item 4), on real SQLite files: `expireOutbox` gives up what
 * waited too long (and only that), with its events; a late `<Ack>` still wins; `failedCount` counts
 * expired messages and failed outgoing files; migration 6 keeps every message of an older store.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { nextOutgoing } from "../../../src/domain/agent/messages.js"
import { FileEtag } from "../../../src/domain/agent/transfers.js"
import { migrations } from "../../../src/layers/agent/store/migrations.js"
import { bob, carol, drain, freshStore, newId, openStore, tempDir } from "./helpers.js"

describe("outbox expiry", () => {
  it("the state machine: only a waiting message expires; an Ack after expiry means delivered", () => {
    expect(nextOutgoing("queued", "expire")).toEqual({ _tag: "Changed", state: "expired" })
    expect(nextOutgoing("sent", "expire")).toEqual({ _tag: "Changed", state: "expired" })
    for (const state of ["delivered", "read", "cancelled", "expired"] as const)
      expect(nextOutgoing(state, "expire")).toEqual({ _tag: "Unchanged" })
    expect(nextOutgoing("expired", "delivered")).toEqual({ _tag: "Changed", state: "delivered" })
    expect(nextOutgoing("expired", "cancel")).toEqual({ _tag: "Refused" })
  })

  it.scoped("expireOutbox gives up waiting messages written at or before the limit, oldest first, with events", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [old, older, fresh, delivered] = [newId(), newId(), newId(), newId()]
      yield* store.enqueue({ id: older, peer: carol, body: "older", now: 100 })
      yield* store.enqueue({ id: old, peer: bob, body: "old", now: 200 })
      yield* store.enqueue({ id: delivered, peer: bob, body: "delivered", now: 150 })
      yield* store.markSent({ id: old, now: 250 })
      yield* store.markDelivered({ peer: bob, id: delivered, now: 260 })
      yield* store.enqueue({ id: fresh, peer: bob, body: "fresh", now: 1000 })
      const events = yield* store.subscribe

      const expired = yield* store.expireOutbox({ createdBefore: 200, now: 5000 })
      expect(expired.map((m) => [m.id, m.state, m.expiredAt])).toEqual([
        [older, "expired", 5000],
        [old, "expired", 5000]
      ])
      expect((yield* drain(events)).map((e) => e._tag === "agent.MessageUpdated" && e.message.id)).toEqual([older, old])
      expect((yield* store.outbox()).map((m) => m.id)).toEqual([fresh])
      expect((yield* store.peersWithOutbox()).map((p) => p.peer)).toEqual([bob])
      expect((yield* store.outgoing(delivered))?.state).toBe("delivered")
      expect(yield* store.expireOutbox({ createdBefore: 200, now: 6000 })).toEqual([])
      expect(yield* store.failedCount()).toBe(2)

      // The peer stored it after all: its late Ack is the truth.
      expect(yield* store.markDelivered({ peer: bob, id: old, now: 7000 })).toBe("changed")
      expect(yield* store.outgoing(old)).toMatchObject({ state: "delivered", expiredAt: 5000, deliveredAt: 7000 })
      expect(yield* store.failedCount()).toBe(1)
      // A late markSent does not bring an expired message back.
      expect(yield* store.markSent({ id: older, now: 8000 })).toBe("unchanged")
      expect((yield* store.outgoing(older))?.state).toBe("expired")

      // A failed outgoing file counts too.
      const file = newId()
      const ref = { direction: "out", peer: bob, id: file } as const
      yield* store.offerFile({ ...ref, path: "/f", name: "f", size: 1, etag: FileEtag.make("e"), chunk: 1, now: 1 })
      yield* store.fileState({ ref, state: "failed", detail: "given up", now: 2 })
      expect(yield* store.failedCount()).toBe(2)
    })
  )

  it.scoped("migration 6: a store of before issue 13 keeps every message, seq and state", () =>
    Effect.gen(function* () {
      const file = join(yield* tempDir, "agent.db")
      const db = new Database(file)
      for (const m of migrations.filter((m) => m.id <= 5)) for (const s of m.statements) db.exec(s)
      db.exec("CREATE TABLE agent_schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
      db.exec("INSERT INTO agent_schema_migrations (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (5, 'e')")
      db.prepare("INSERT INTO contacts (handle, created_at) VALUES (?, 0)").run(bob)
      const [queued, delivered, incoming] = [newId(), newId(), newId()]
      const insert = db.prepare(
        `INSERT INTO messages (seq, id, peer, direction, body, state, at, created_at, received_at, delivered_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      )
      insert.run(7, queued, bob, "out", "waiting", "queued", 10, 10, null, null)
      insert.run(9, delivered, bob, "out", "done", "delivered", 20, 20, null, 25)
      insert.run(12, incoming, bob, "in", "hi", "received", 30, 30, 30, null)
      db.close()

      const store = yield* openStore(file)
      const history = yield* store.history()
      expect(history.map((m) => [m.seq, m.id, m.state, m.expiredAt])).toEqual([
        [7, queued, "queued", null],
        [9, delivered, "delivered", null],
        [12, incoming, "received", null]
      ])
      expect((yield* store.outbox()).map((m) => m.id)).toEqual([queued])
      // New rows continue after the highest seq (AUTOINCREMENT's counter survived the rebuild).
      expect((yield* store.enqueue({ id: newId(), peer: bob, body: "new", now: 40 })).seq).toBe(13)
      expect((yield* store.expireOutbox({ createdBefore: 10, now: 50 })).map((m) => m.id)).toEqual([queued])
    })
  )
})
