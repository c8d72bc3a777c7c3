/** Outgoing and incoming messages, the outbox, history and the change feed, on a real SQLite file. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { timestampMillis, timestampOf } from "../../../src/domain/agent/messages.js"
import { bob, carol, drain, freshStore, newId, now } from "./helpers.js"

describe("outgoing messages", () => {
  it.scoped("enqueue -> sent -> delivered leaves the outbox, with every time recorded", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const id = newId()
      yield* TestClock.adjust("1 second")
      const queued = yield* store.enqueue({ id, peer: bob, body: "hello", now: yield* now })
      expect(queued).toMatchObject({ id, peer: bob, direction: "out", state: "queued", createdAt: 1000, attempts: 0 })
      expect((yield* store.outbox()).map((m) => m.id)).toEqual([id])

      yield* TestClock.adjust("1 second")
      expect(yield* store.markSent({ id, now: yield* now })).toBe("changed")
      expect(yield* store.outbox({ peer: bob })).toMatchObject([{ id, state: "sent", sentAt: 2000, attempts: 1 }])
      // A resend counts the attempt but the state stays `sent`.
      yield* TestClock.adjust("1 second")
      expect(yield* store.markSent({ id, now: yield* now })).toBe("unchanged")

      yield* TestClock.adjust("1 second")
      expect(yield* store.markDelivered({ peer: bob, id, now: yield* now })).toBe("changed")
      expect(yield* store.outbox()).toEqual([])
      expect(yield* store.peersWithOutbox()).toEqual([])
      expect(yield* store.outgoing(id)).toMatchObject({
        state: "delivered",
        createdAt: 1000,
        sentAt: 3000,
        deliveredAt: 4000,
        attempts: 2
      })
      // Acks are idempotent; a late markSent does not resurrect a delivered message.
      expect(yield* store.markDelivered({ peer: bob, id, now: 5000 })).toBe("unchanged")
      expect(yield* store.markSent({ id, now: 5000 })).toBe("unchanged")
      expect((yield* store.outgoing(id))?.state).toBe("delivered")
    })
  )

  it.scoped("an Ack for an unknown id, or from another peer, changes nothing and says so", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const id = newId()
      yield* store.enqueue({ id, peer: bob, body: "for bob", now: 1 })
      expect(yield* store.markDelivered({ peer: bob, id: newId(), now: 2 })).toBe("unknown")
      expect(yield* store.markDelivered({ peer: carol, id, now: 2 })).toBe("unknown")
      expect(yield* store.markRead({ peer: carol, id, now: 2 })).toBe("unknown")
      expect(yield* store.markSent({ id: newId(), now: 2 })).toBe("unknown")
      expect((yield* store.outbox()).map((m) => [m.id, m.state])).toEqual([[id, "queued"]])
    })
  )

  it.scoped("enqueue is idempotent on id and refuses the id for other content", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const id = newId()
      const first = yield* store.enqueue({ id, peer: bob, body: "once", now: 10 })
      const again = yield* store.enqueue({ id, peer: bob, body: "once", now: 20 })
      expect(again).toEqual(first)
      expect(yield* store.outbox()).toHaveLength(1)
      const otherBody = yield* Effect.flip(store.enqueue({ id, peer: bob, body: "twice", now: 30 }))
      const otherPeer = yield* Effect.flip(store.enqueue({ id, peer: carol, body: "once", now: 30 }))
      expect([otherBody.reason, otherPeer.reason]).toEqual(["Conflict", "Conflict"])
      expect(otherBody.message).toContain("fresh id")
    })
  )

  it.scoped("read receipts imply delivery; an Ack after Read changes nothing", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const id = newId()
      yield* store.enqueue({ id, peer: bob, body: "x", now: 1 })
      yield* store.markSent({ id, now: 2 })
      expect(yield* store.markRead({ peer: bob, id, now: 3 })).toBe("changed")
      expect(yield* store.markDelivered({ peer: bob, id, now: 4 })).toBe("unchanged")
      expect(yield* store.outgoing(id)).toMatchObject({ state: "read", deliveredAt: 3, readAt: 3 })
      expect(yield* store.markRead({ peer: bob, id, now: 5 })).toBe("unchanged")
    })
  )

  it.scoped("cancel works until delivery; a late Ack still shows the truth", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [queued, sent, delivered] = [newId(), newId(), newId()]
      for (const id of [queued, sent, delivered]) yield* store.enqueue({ id, peer: bob, body: id, now: 1 })
      yield* store.markSent({ id: sent, now: 2 })
      yield* store.markDelivered({ peer: bob, id: delivered, now: 3 })

      const c1 = yield* store.cancel({ id: queued, now: 4 })
      expect(c1).toMatchObject({ state: "cancelled", cancelledAt: 4, sentAt: null })
      const c2 = yield* store.cancel({ id: sent, now: 4 })
      expect(c2).toMatchObject({ state: "cancelled", sentAt: 2 })
      expect((yield* store.cancel({ id: queued, now: 5 })).cancelledAt).toBe(4)
      expect(yield* store.outbox()).toEqual([])
      // Cancelled messages are not sent again.
      expect(yield* store.markSent({ id: queued, now: 6 })).toBe("unchanged")

      const tooLate = yield* Effect.flip(store.cancel({ id: delivered, now: 6 }))
      expect(tooLate.reason).toBe("TooLate")
      expect(tooLate.message).toContain("already delivered")
      expect((yield* Effect.flip(store.cancel({ id: newId(), now: 6 }))).reason).toBe("NotFound")

      // The one that had been written to a channel arrived after all.
      expect(yield* store.markDelivered({ peer: bob, id: sent, now: 7 })).toBe("changed")
      expect((yield* store.outgoing(sent))?.state).toBe("delivered")
    })
  )

  it.scoped("the outbox is per peer, in send order, and pages by seq", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const ids = Array.from({ length: 5 }, () => newId())
      for (const [i, id] of ids.entries()) {
        yield* store.enqueue({ id, peer: i % 2 === 0 ? bob : carol, body: `m${i}`, now: 100 - i })
      }
      // Send order is insertion order, whatever the times say.
      expect((yield* store.outbox({ peer: bob })).map((m) => m.body)).toEqual(["m0", "m2", "m4"])
      const firstPage = yield* store.outbox({ limit: 2 })
      expect(firstPage.map((m) => m.body)).toEqual(["m0", "m1"])
      const next = yield* store.outbox({ after: firstPage[1]!.seq, limit: 2 })
      expect(next.map((m) => m.body)).toEqual(["m2", "m3"])
      expect((yield* Effect.flip(store.outbox({ limit: 0 }))).reason).toBe("InvalidArgument")
      const peers = yield* store.peersWithOutbox()
      expect(peers.map((p) => [p.peer, p.pending, p.oldestAt, p.failures])).toEqual([
        [bob, 3, 96, 0],
        [carol, 2, 97, 0]
      ])
    })
  )

  it.scoped("retry bookkeeping: failures grow the backoff, an Ack resets it, a new binding retries at once", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore({ retry: { baseMs: 1000, maxMs: 8000 } })
      const id = newId()
      yield* store.enqueue({ id, peer: bob, body: "are you there", now: 0 })
      const delays: Array<number> = []
      for (let i = 1; i <= 5; i++) {
        const state = yield* store.recordDeliveryFailure({ peer: bob, error: `refused ${i}`, random: 0.5, now: 10_000 })
        expect(state.failures).toBe(i)
        delays.push(state.nextAttemptAt! - 10_000)
      }
      // Equal jitter with random = 0.5: three quarters of 1, 2, 4, 8, 8 seconds.
      expect(delays).toEqual([750, 1500, 3000, 6000, 6000])
      expect(yield* store.peersWithOutbox()).toMatchObject([
        { peer: bob, failures: 5, nextAttemptAt: 16_000, lastError: "refused 5" }
      ])
      yield* store.retryNow({ peer: bob, now: 11_000 })
      expect(yield* store.peersWithOutbox()).toMatchObject([{ failures: 5, nextAttemptAt: 11_000 }])
      yield* store.markDelivered({ peer: bob, id, now: 12_000 })
      yield* store.enqueue({ id: newId(), peer: bob, body: "again", now: 13_000 })
      expect(yield* store.peersWithOutbox()).toMatchObject([{ failures: 0, nextAttemptAt: null, lastError: null }])
    })
  )
})

describe("incoming messages", () => {
  it.scoped("duplicates are detected per peer; the first copy wins", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const id = newId()
      const sent = timestampMillis(timestampOf(5_000))
      expect(yield* store.receive({ id, peer: bob, body: "hi", createdAt: sent, now: 6_000 })).toBe("new")
      expect(yield* store.receive({ id, peer: bob, body: "hi", createdAt: sent, now: 7_000 })).toBe("duplicate")
      expect(yield* store.receive({ id, peer: bob, body: "changed", createdAt: sent, now: 8_000 })).toBe("duplicate")
      // Another peer may use the same id: ids are unique per sender only.
      expect(yield* store.receive({ id, peer: carol, body: "hi", createdAt: sent, now: 9_000 })).toBe("new")
      const history = yield* store.history({ peer: bob })
      expect(history).toMatchObject([{ id, body: "hi", state: "received", createdAt: 5_000, receivedAt: 6_000 }])
      expect(yield* store.incoming(bob, id)).toMatchObject({ direction: "in", body: "hi" })
    })
  )

  it.scoped("read by me: one message, a whole conversation, unread counts", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const ids = [newId(), newId(), newId()]
      for (const [i, id] of ids.entries()) {
        yield* store.receive({ id, peer: bob, body: `b${i}`, createdAt: 10 + i, now: 20 + i })
      }
      expect((yield* store.contact(bob))?.unread).toBe(3)
      expect(yield* store.markReadByMe({ peer: bob, id: ids[1]!, now: 30 })).toBe("changed")
      expect(yield* store.markReadByMe({ peer: bob, id: ids[1]!, now: 31 })).toBe("unchanged")
      expect(yield* store.markReadByMe({ peer: carol, id: ids[1]!, now: 31 })).toBe("unknown")
      expect((yield* store.contact(bob))?.unread).toBe(2)
      expect(yield* store.markConversationRead({ peer: bob, now: 40 })).toEqual([ids[0], ids[2]])
      expect(yield* store.markConversationRead({ peer: bob, now: 41 })).toEqual([])
      expect((yield* store.history({ peer: bob })).map((m) => [m.state, m.readAt])).toEqual([
        ["read", 40],
        ["read", 30],
        ["read", 40]
      ])
      expect((yield* store.contact(bob))?.unread).toBe(0)
    })
  )

  it.scoped("an unusable time stamp is refused before anything is stored", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const error = yield* Effect.flip(
        store.receive({ id: newId(), peer: bob, body: "x", createdAt: Number.NaN, now: 1 })
      )
      expect(error.reason).toBe("InvalidArgument")
      expect(yield* store.history()).toEqual([])
    })
  )
})

describe("history", () => {
  it.scoped("each message once, ordered by when it was written here or arrived, then insertion order", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      // Alice (this agent) talks to bob; bob's clock runs ahead by an hour on his last message.
      yield* store.enqueue({ id: newId(), peer: bob, body: "a1", now: 1_000 })
      yield* store.receive({ id: newId(), peer: bob, body: "b1", createdAt: 1_500, now: 2_000 })
      yield* store.enqueue({ id: newId(), peer: bob, body: "a2", now: 3_000 })
      // Written at 2 500 while offline, delivered late: it stands where it arrived (issue 10, section 6:
      // the sender's stamp is a claim; a backdated one must not slip into the past of the conversation).
      yield* store.receive({ id: newId(), peer: bob, body: "b-late", createdAt: 2_500, now: 9_000 })
      // Stamped in the future: at its arrival too.
      yield* store.receive({ id: newId(), peer: bob, body: "b-future", createdAt: 3_600_000, now: 10_000 })
      yield* store.enqueue({ id: newId(), peer: bob, body: "a3", now: 11_000 })
      // Equal times keep insertion order.
      yield* store.enqueue({ id: newId(), peer: carol, body: "c1", now: 11_000 })
      yield* store.enqueue({ id: newId(), peer: carol, body: "c2", now: 11_000 })

      const all = yield* store.history()
      expect(all.map((m) => m.body)).toEqual(["a1", "b1", "a2", "b-late", "b-future", "a3", "c1", "c2"])
      expect(new Set(all.map((m) => m.seq)).size).toBe(all.length)
      expect((yield* store.history({ peer: carol })).map((m) => m.body)).toEqual(["c1", "c2"])
      const bobs = yield* store.history({ peer: bob })
      expect(bobs.map((m) => [m.body, m.direction, m.state])).toEqual([
        ["a1", "out", "queued"],
        ["b1", "in", "received"],
        ["a2", "out", "queued"],
        ["b-late", "in", "received"],
        ["b-future", "in", "received"],
        ["a3", "out", "queued"]
      ])
    })
  )

  it.scoped("pages backwards with `before`, ties included, without gaps or repeats", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const bodies = Array.from({ length: 23 }, (_, i) => `m${i}`)
      // Several messages share each time stamp, to exercise the tie-break across page boundaries.
      for (const [i, body] of bodies.entries())
        yield* store.enqueue({ id: newId(), peer: bob, body, now: Math.floor(i / 4) })
      const seen: Array<string> = []
      let page = yield* store.history({ peer: bob, limit: 5 })
      let guard = 0
      while (page.length > 0 && guard++ < 10) {
        seen.unshift(...page.map((m) => m.body))
        page = yield* store.history({ peer: bob, limit: 5, before: page[0]! })
      }
      expect(seen).toEqual(bodies)
      expect((yield* Effect.flip(store.history({ limit: 1001 }))).reason).toBe("InvalidArgument")
    })
  )

  it.scoped("the change feed reports additions and state changes, after they committed", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const feed = yield* store.subscribe
      const out = newId()
      const inc = newId()
      yield* store.enqueue({ id: out, peer: bob, body: "x", now: 1 })
      yield* store.enqueue({ id: out, peer: bob, body: "x", now: 1 })
      yield* store.markSent({ id: out, now: 2 })
      yield* store.markSent({ id: out, now: 3 })
      yield* store.markDelivered({ peer: bob, id: out, now: 4 })
      yield* store.receive({ id: inc, peer: bob, body: "y", createdAt: 5, now: 5 })
      yield* store.receive({ id: inc, peer: bob, body: "y", createdAt: 5, now: 6 })
      yield* store.markReadByMe({ peer: bob, id: inc, now: 7 })
      const events = yield* drain(feed)
      expect(
        events.map((e) =>
          e._tag === "agent.MessageAdded" || e._tag === "agent.MessageUpdated" ? [e._tag, e.message.state] : [e._tag]
        )
      ).toEqual([
        ["agent.MessageAdded", "queued"],
        ["agent.MessageUpdated", "sent"],
        ["agent.MessageUpdated", "delivered"],
        ["agent.MessageAdded", "received"],
        ["agent.MessageUpdated", "read"]
      ])
    })
  )
})
