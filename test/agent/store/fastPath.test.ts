/**
 * The message path's synchronous connection (`fastDb.ts`, `fastMessages.ts`, issue 15): it keeps
 * the durability settings, rolls back a failed body, and the store built on it (a file) answers the
 * hot operations exactly as the effectful implementations do (an in-memory store), events included.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import type { Id } from "../../../src/domain/brands.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import * as FastDb from "../../../src/layers/agent/store/fastDb.js"
import { AgentStore, type AgentStoreService } from "../../../src/services/AgentStore.js"
import { alice, bob, drain, freshStore, newId } from "./helpers.js"

const memoryStore = Effect.map(
  Layer.build(
    Layer.scoped(AgentStore, AgentStoreLive.make()).pipe(Layer.provide(SqliteClient.layer({ filename: ":memory:" })))
  ),
  (context) => Context.get(context, AgentStore)
)

/** A scripted run of the hot operations; returns every answer and event, ids replaced by their index. */
const script = (store: AgentStoreService, ids: ReadonlyArray<Id>) =>
  Effect.gen(function* () {
    const events = yield* store.subscribe
    const name = (id: string) => `#${ids.indexOf(id as Id)}`
    const answers: Array<unknown> = []
    const note = (a: unknown) => answers.push(JSON.parse(JSON.stringify(a, (k, v) => (k === "id" ? name(v) : v))))
    const [m0, m1, m2, m3, in0, in1, unknown] = ids as [Id, Id, Id, Id, Id, Id, Id]
    for (const [i, id] of [m0, m1, m2, m3].entries())
      note(yield* store.enqueue({ id, peer: bob, body: `b${i}`, now: 10 + i }))
    note(yield* store.enqueue({ id: m0, peer: bob, body: "b0", now: 99 }))
    note(yield* Effect.flip(store.enqueue({ id: m0, peer: bob, body: "other", now: 99 })))
    note(yield* store.outbox({ peer: bob, limit: 2 }))
    note(yield* store.outbox({ after: 2, limit: 10 }))
    yield* store.markSentMany({ ids: [m0, m1], now: 20 })
    yield* store.markSentMany({ ids: [m0, unknown], now: 21 })
    yield* store.cancel({ id: m2, now: 22 })
    yield* store.recordDeliveryFailure({ peer: bob, error: "offline", random: 0.5, now: 23 })
    yield* store.retryNow({ peer: bob, now: 24 })
    note(yield* store.peersWithOutbox())
    note(yield* store.markDeliveredMany({ peer: bob, ids: [m0, m0, m2, m3, unknown], now: 30 }))
    note(yield* store.markDeliveredMany({ peer: alice, ids: [m1], now: 31 }))
    note(yield* store.peersWithOutbox())
    note(
      yield* store.receiveMany({
        peer: alice,
        messages: [
          { id: in0, body: "x", createdAt: 5 },
          { id: in1, body: "y", createdAt: 6 },
          { id: in0, body: "x", createdAt: 5 }
        ],
        now: 40
      })
    )
    note(yield* store.receiveMany({ peer: alice, messages: [{ id: in1, body: "y", createdAt: 6 }], now: 41 }))
    note(yield* store.history())
    note(yield* drain(events))
    return answers
  })

describe("the message path's synchronous connection", () => {
  it.scoped("answers the hot operations as the effectful implementation does, events included", () =>
    Effect.gen(function* () {
      const ids = Array.from({ length: 7 }, () => newId())
      const { store } = yield* freshStore()
      const onFile = yield* script(store, ids)
      const inMemory = yield* script(yield* memoryStore, ids)
      expect(onFile).toEqual(inMemory)
      // The script reached every branch it means to: a conflict, duplicates, unknown ids, a cancelled one.
      expect(JSON.stringify(onFile)).toContain("Conflict")
      expect(onFile).toContainEqual(["changed", "unchanged", "changed", "changed", "unknown"])
      expect(onFile).toContainEqual(["new", "new", "duplicate"])
    })
  )

  it.scoped("a run of MAX_BATCH receipts is one statement each way, and every id is handled", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const ids = Array.from({ length: 256 }, () => newId())
      for (const id of ids) yield* store.enqueue({ id, peer: bob, body: "x", now: 1 })
      yield* store.markSentMany({ ids, now: 2 })
      expect(yield* store.markDeliveredMany({ peer: bob, ids, now: 3 })).toEqual(ids.map(() => "changed"))
      expect(yield* store.outbox({ peer: bob })).toEqual([])
    })
  )

  it.scoped("keeps synchronous = FULL after a relaxed write, also one whose body failed, and rolls that back", () =>
    Effect.gen(function* () {
      const { store, file } = yield* freshStore()
      const fast = yield* FastDb.open(file, 1000)
      const level = () => fast.read("PRAGMA synchronous", [])[0]?.synchronous
      expect(level()).toBe(2)
      fast.write("relaxed", (q) => q.all("INSERT INTO contacts (handle, created_at) VALUES (?, ?)", [alice, 1]))
      expect(level()).toBe(2)
      expect(() =>
        fast.write("relaxed", (q) => {
          q.all("INSERT INTO contacts (handle, created_at) VALUES (?, ?)", [bob, 1])
          throw new Error("body failed")
        })
      ).toThrow("body failed")
      expect(level()).toBe(2)
      expect(fast.read("SELECT handle FROM contacts ORDER BY handle", [])).toEqual([{ handle: alice }])
      // A write the store's own connection sees at once (WAL, one file).
      expect((yield* store.contacts()).map((c) => c.handle)).toEqual([alice])
    })
  )
})
