/**
 * The batch operations (group commit): `receiveMany`, `markSentMany`, `markDeliveredMany` follow
 * the one-message rules, on a real SQLite file, and publish the same events in commit order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { alice, bob, carol, drain, freshStore, newId } from "./helpers.js"

describe("batch operations", () => {
  it.scoped("receiveMany stores a run once each, in order, and reports duplicates (also within the run)", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const events = yield* store.subscribe
      const [a, b, c] = [newId(), newId(), newId()]
      yield* store.receive({ id: a, peer: alice, body: "first", createdAt: 10, now: 20 })
      yield* drain(events)
      const outcomes = yield* store.receiveMany({
        peer: alice,
        messages: [
          { id: a, body: "first", createdAt: 10 },
          { id: b, body: "second", createdAt: 11 },
          { id: c, body: "third", createdAt: 12 },
          { id: b, body: "second", createdAt: 11 }
        ],
        now: 30
      })
      expect(outcomes).toEqual(["duplicate", "new", "new", "duplicate"])
      const added = (yield* drain(events)).map((e) => (e._tag === "agent.MessageAdded" ? e.message.id : e._tag))
      expect(added).toEqual([b, c])
      const history = yield* store.history({ peer: alice })
      expect(history.map((m) => [m.body, m.direction, m.state, m.receivedAt])).toEqual([
        ["first", "in", "received", 20],
        ["second", "in", "received", 30],
        ["third", "in", "received", 30]
      ])
      // The same id from another peer is another message.
      expect(
        yield* store.receiveMany({ peer: carol, messages: [{ id: b, body: "x", createdAt: 1 }], now: 40 })
      ).toEqual(["new"])
      expect(yield* store.receiveMany({ peer: alice, messages: [], now: 50 })).toEqual([])
    })
  )

  it.scoped("receiveMany refuses a run with an unusable time stamp, or too long, and stores none of it", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const bad = yield* Effect.flip(
        store.receiveMany({
          peer: alice,
          messages: [
            { id: newId(), body: "ok", createdAt: 1 },
            { id: newId(), body: "bad", createdAt: Number.NaN }
          ],
          now: 2
        })
      )
      expect(bad.reason).toBe("InvalidArgument")
      const long = Array.from({ length: 257 }, () => ({ id: newId(), body: "x", createdAt: 1 }))
      expect((yield* Effect.flip(store.receiveMany({ peer: alice, messages: long, now: 2 }))).reason).toBe(
        "InvalidArgument"
      )
      expect(yield* store.history({})).toEqual([])
    })
  )

  it.scoped("markSentMany and markDeliveredMany: the one-message rules for a run, events in order", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [m1, m2, m3, m4] = [newId(), newId(), newId(), newId()]
      for (const [i, id] of [m1, m2, m3, m4].entries()) yield* store.enqueue({ id, peer: bob, body: `m${i}`, now: 1 })
      yield* store.markSent({ id: m1, now: 2 })
      yield* store.cancel({ id: m4, now: 2 })
      const events = yield* store.subscribe

      yield* store.markSentMany({ ids: [m1, m2, m3, m4], now: 3 })
      // m1 was sent already (attempt counted, no event); m2, m3 move to sent; cancelled m4 stays.
      expect((yield* drain(events)).map((e) => (e._tag === "agent.MessageUpdated" ? e.message.id : e._tag))).toEqual([
        m2,
        m3
      ])
      expect((yield* store.outbox()).map((m) => [m.id, m.state, m.sentAt, m.attempts])).toEqual([
        [m1, "sent", 3, 2],
        [m2, "sent", 3, 1],
        [m3, "sent", 3, 1]
      ])
      expect((yield* store.outgoing(m4))?.state).toBe("cancelled")

      yield* store.recordDeliveryFailure({ peer: bob, error: "unreachable", random: 0.5, now: 3 })
      const unknown = newId()
      const outcomes = yield* store.markDeliveredMany({ peer: bob, ids: [m2, unknown, m1, m2], now: 4 })
      expect(outcomes).toEqual(["changed", "unknown", "changed", "unchanged"])
      expect((yield* drain(events)).map((e) => (e._tag === "agent.MessageUpdated" ? e.message.id : e._tag))).toEqual([
        m1,
        m2
      ])
      expect((yield* store.outbox()).map((m) => m.id)).toEqual([m3])
      // An Ack resets the backoff, as markDelivered does.
      expect((yield* store.peersWithOutbox())[0]).toMatchObject({ peer: bob, failures: 0, nextAttemptAt: null })
      // A late markSentMany does not resurrect delivered messages; Acks from another peer change nothing.
      yield* store.markSentMany({ ids: [m1, m2], now: 5 })
      expect((yield* store.outgoing(m1))?.state).toBe("delivered")
      expect(yield* store.markDeliveredMany({ peer: carol, ids: [m3], now: 6 })).toEqual(["unknown"])
      // A late Ack of a cancelled message shows it delivered (it did reach the peer).
      expect(yield* store.markDeliveredMany({ peer: bob, ids: [m4], now: 7 })).toEqual(["changed"])
    })
  )
})
