/** Key pinning (PROTOCOL.md §13): New / Same / Changed, strict and non-strict, acceptKey, contact summaries. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { alice, bob, carol, drain, fingerprint, freshStore, newId } from "./helpers.js"

describe("key pinning", () => {
  it.scoped("the first handshake pins, the same key is Same, another key is a pending change (strict)", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [k1, k2] = [fingerprint(1), fingerprint(2)]
      expect(yield* store.pinContact({ handle: bob, fingerprint: k1, now: 10 })).toEqual({ _tag: "New" })
      expect(yield* store.pinContact({ handle: bob, fingerprint: k1, now: 20 })).toEqual({ _tag: "Same" })
      expect(yield* store.contact(bob)).toMatchObject({ fingerprint: k1, pinnedAt: 10, lastHandshakeAt: 20 })

      const changed = yield* store.pinContact({ handle: bob, fingerprint: k2, now: 30 })
      expect(changed).toMatchObject({ _tag: "Changed", previous: k1, current: k2, accepted: false })
      // Strict: the pin stays until the user accepts; the change is on record and shown.
      const contact = yield* store.contact(bob)
      expect(contact).toMatchObject({ fingerprint: k1, lastHandshakeAt: 20 })
      expect(contact?.pendingKeyChange).toMatchObject({ previous: k1, current: k2, status: "pending", at: 30 })
      // Every refused reconnect with the new key is the same change, not a new one.
      yield* store.pinContact({ handle: bob, fingerprint: k2, now: 40 })
      expect(yield* store.keyChanges(bob)).toHaveLength(1)
      // The old key still works meanwhile, and the warning stays.
      expect(yield* store.pinContact({ handle: bob, fingerprint: k1, now: 50 })).toEqual({ _tag: "Same" })
      expect((yield* store.contact(bob))?.pendingKeyChange?.current).toBe(k2)
    })
  )

  it.scoped("acceptKey (sixchat trust) moves the pin to the newest pending key, or to the one named", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [k1, k2, k3] = [fingerprint(1), fingerprint(2), fingerprint(3)]
      yield* store.pinContact({ handle: bob, fingerprint: k1, now: 1 })
      yield* store.pinContact({ handle: bob, fingerprint: k2, now: 2 })
      yield* store.pinContact({ handle: bob, fingerprint: k3, now: 3 })
      const wrong = yield* Effect.flip(store.acceptKey({ handle: bob, fingerprint: fingerprint(9), now: 4 }))
      expect(wrong.reason).toBe("Conflict")
      expect(wrong.message).toContain("compare the safety number")

      const accepted = yield* store.acceptKey({ handle: bob, fingerprint: k2, now: 5 })
      expect(accepted).toMatchObject({ current: k2, status: "accepted", resolvedAt: 5 })
      expect(yield* store.contact(bob)).toMatchObject({ fingerprint: k2, pinnedAt: 5, pendingKeyChange: null })
      expect((yield* store.keyChanges(bob)).map((c) => [c.current, c.status])).toEqual([
        [k2, "accepted"],
        [k3, "superseded"]
      ])
      expect(yield* store.pinContact({ handle: bob, fingerprint: k2, now: 6 })).toEqual({ _tag: "Same" })

      expect((yield* Effect.flip(store.acceptKey({ handle: bob, now: 7 }))).reason).toBe("NoKeyChange")
      expect((yield* Effect.flip(store.acceptKey({ handle: carol, now: 7 }))).reason).toBe("NotFound")
    })
  )

  it.scoped("non-strict: a changed key is pinned at once and the change stays on record", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const feed = yield* store.subscribe
      yield* store.pinContact({ handle: bob, fingerprint: fingerprint(1), now: 1 })
      const changed = yield* store.pinContact({ handle: bob, fingerprint: fingerprint(2), now: 2, acceptChange: true })
      expect(changed).toMatchObject({ _tag: "Changed", accepted: true, change: { status: "accepted" } })
      expect(yield* store.contact(bob)).toMatchObject({
        fingerprint: fingerprint(2),
        lastHandshakeAt: 2,
        pendingKeyChange: null
      })
      expect((yield* drain(feed)).map((e) => e._tag)).toEqual(["agent.ContactPinned", "agent.KeyChanged"])
    })
  )

  it.scoped("session codes are kept per contact; unknown handles are refused", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      yield* store.pinContact({ handle: bob, fingerprint: fingerprint(1), now: 1 })
      yield* store.recordSessionCode({ handle: bob, code: "12345 67890 11121", now: 2 })
      expect(yield* store.contact(bob)).toMatchObject({ sessionCode: "12345 67890 11121", sessionCodeAt: 2 })
      expect((yield* Effect.flip(store.recordSessionCode({ handle: carol, code: "1", now: 3 }))).reason).toBe(
        "NotFound"
      )
      expect((yield* Effect.flip(store.recordSessionCode({ handle: bob, code: "", now: 3 }))).reason).toBe(
        "InvalidArgument"
      )
    })
  )
})

describe("contacts()", () => {
  it.scoped("lists every peer with its summary, most recent conversation first", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      yield* store.pinContact({ handle: alice, fingerprint: fingerprint(7), now: 1 })
      yield* store.enqueue({ id: newId(), peer: carol, body: "to carol", now: 10 })
      yield* store.receive({ id: newId(), peer: bob, body: "from bob", createdAt: 20, now: 20 })
      yield* store.receive({ id: newId(), peer: bob, body: "from bob", createdAt: 21, now: 21 })
      yield* store.pinContact({ handle: bob, fingerprint: fingerprint(8), now: 22 })
      const list = yield* store.contacts()
      expect(list.map((c) => [c.handle, c.fingerprint, c.lastMessageAt, c.unread, c.outbox])).toEqual([
        [bob, fingerprint(8), 21, 2, 0],
        [carol, null, 10, 0, 1],
        [alice, fingerprint(7), null, 0, 0]
      ])
      expect(yield* store.contact(bob)).toEqual(list[0])
      expect(yield* store.contact(`nobody@example.org` as typeof bob)).toBeUndefined()
    })
  )
})
