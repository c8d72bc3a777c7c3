/** The pure parts: message and transfer state machines, pin comparison, retry delays, time stamps. */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { comparePin } from "../../../src/domain/agent/contacts.js"
import {
  historyTime,
  nextOutgoing,
  type OutgoingEvent,
  OutgoingState,
  timestampMillis,
  timestampOf
} from "../../../src/domain/agent/messages.js"
import { defaultRetryPolicy, retryDelay } from "../../../src/domain/agent/retry.js"
import { nextTransfer, TERMINAL_TRANSFER_STATES } from "../../../src/domain/agent/transfers.js"
import { Fingerprint } from "../../../src/domain/brands.js"

describe("nextOutgoing", () => {
  const table: ReadonlyArray<readonly [OutgoingState, OutgoingEvent, string]> = [
    ["queued", "sent", "sent"],
    ["sent", "sent", "="],
    ["delivered", "sent", "="],
    ["cancelled", "sent", "="],
    ["queued", "delivered", "delivered"],
    ["sent", "delivered", "delivered"],
    ["cancelled", "delivered", "delivered"],
    ["delivered", "delivered", "="],
    ["read", "delivered", "="],
    ["sent", "read", "read"],
    ["delivered", "read", "read"],
    ["read", "read", "="],
    ["queued", "cancel", "cancelled"],
    ["sent", "cancel", "cancelled"],
    ["cancelled", "cancel", "="],
    ["delivered", "cancel", "refused"],
    ["read", "cancel", "refused"]
  ]
  it.each(table)("%s --%s--> %s", (from, event, expected) => {
    const next = nextOutgoing(from, event)
    expect(next._tag === "Changed" ? next.state : next._tag === "Unchanged" ? "=" : "refused").toBe(expected)
  })

  it("never leaves delivery behind: once delivered or read, no event returns a message to the outbox", () => {
    const states = OutgoingState.literals
    fc.assert(
      fc.property(
        fc.constantFrom(...states),
        fc.array(fc.constantFrom<OutgoingEvent>("sent", "delivered", "read", "cancel")),
        (start, events) => {
          let state = start
          let delivered = state === "delivered" || state === "read"
          for (const e of events) {
            const next = nextOutgoing(state, e)
            if (next._tag === "Changed") state = next.state
            if (delivered && (state === "queued" || state === "sent" || state === "cancelled")) return false
            delivered ||= state === "delivered" || state === "read"
          }
          return true
        }
      )
    )
  })
})

describe("nextTransfer", () => {
  it("moves freely between live states and never out of a terminal one", () => {
    expect(nextTransfer("sending", "accepted")._tag).toBe("Changed")
    expect(nextTransfer("verifying", "accepted")._tag).toBe("Changed")
    expect(nextTransfer("receiving", "receiving")._tag).toBe("Unchanged")
    for (const t of TERMINAL_TRANSFER_STATES) {
      expect(nextTransfer(t, t)._tag).toBe("Unchanged")
      expect(nextTransfer(t, "offered")._tag).toBe("Refused")
    }
    expect(nextTransfer("done", "failed")._tag).toBe("Refused")
  })
})

describe("pins, retries and times", () => {
  it("compares a presented key with the pin", () => {
    const [a, b] = [Fingerprint.make("a".repeat(64)), Fingerprint.make("b".repeat(64))]
    const [ca1, ca2] = ["1".repeat(64), "2".repeat(64)]
    const chain = (fingerprint: Fingerprint, issuer: string) => ({ fingerprint, issuer })
    expect([
      comparePin(null, chain(a, ca1)),
      comparePin(chain(a, ca1), chain(a, ca1)),
      comparePin(chain(a, ca1), chain(b, ca1))
    ]).toEqual(["New", "Same", "Changed"])
    // The pin is per chain: the same key under another issuing CA is a change (section 13.5) ...
    expect(comparePin(chain(a, ca1), chain(a, ca2))).toBe("Changed")
    // ... except where the issuer is not known (a pin from before store migration 2).
    expect(comparePin(chain(a, ""), chain(a, ca2))).toBe("Same")
  })

  it("retry delays grow exponentially with equal jitter and stay within the cap", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        const step = Math.min(defaultRetryPolicy.maxMs, defaultRetryPolicy.baseMs * 2 ** Math.min(n - 1, 52))
        const d = retryDelay(defaultRetryPolicy, n, r)
        return d >= Math.floor(step / 2) && d <= step
      })
    )
    expect([1, 2, 3].map((n) => retryDelay(defaultRetryPolicy, n, 0))).toEqual([500, 1000, 2000])
  })

  it("history time of an incoming message is its arrival, whatever the sender stamped (issue 10, section 6)", () => {
    expect(historyTime("in", 5000, 4000)).toBe(4000)
    expect(historyTime("in", 3000, 4000)).toBe(4000)
    expect(historyTime("out", 5000, 1)).toBe(5000)
  })

  it("wire time stamps round-trip through epoch milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => timestampMillis(timestampOf(ms)) === ms)
    )
  })
})
