/**
 * The pure rules of the session manager: which of two sessions with a peer to keep (PROTOCOL.md §15)
 * and what the keep-alive does next (issue 4, section 1).
 */
import { describe, expect, it } from "vitest"
import { Fingerprint } from "../../../src/domain/brands.js"
import { keepAliveStep } from "../../../src/layers/agent/core/session.js"
import { keepWhich } from "../../../src/layers/agent/core/simultaneousOpen.js"

const low = Fingerprint.make("0".repeat(63) + "1")
const high = Fingerprint.make("f".repeat(64))
const windowMs = 30_000

describe("simultaneous open", () => {
  it("keeps the connection whose initiator has the smaller fingerprint, whichever completed first", () => {
    // We are `low`: our own dial (initiator) wins over the peer's, in either order.
    const ours = { role: "initiator", establishedAt: 1000 } as const
    const theirs = { role: "responder", establishedAt: 1005 } as const
    expect(keepWhich({ existing: ours, incoming: theirs, self: low, peer: high, windowMs })).toBe("existing")
    expect(keepWhich({ existing: theirs, incoming: ours, self: low, peer: high, windowMs })).toBe("incoming")
    // We are `high`: the peer's dial wins, in either order.
    expect(keepWhich({ existing: ours, incoming: theirs, self: high, peer: low, windowMs })).toBe("incoming")
    expect(keepWhich({ existing: theirs, incoming: ours, self: high, peer: low, windowMs })).toBe("existing")
  })

  it("a second connection from the same initiator replaces the first (the peer lost it)", () => {
    const old = { role: "responder", establishedAt: 1000 } as const
    const again = { role: "responder", establishedAt: 1500 } as const
    expect(keepWhich({ existing: old, incoming: again, self: low, peer: high, windowMs })).toBe("incoming")
  })

  it("a connection from the peer long after ours replaces ours, whatever the fingerprints", () => {
    const ours = { role: "initiator", establishedAt: 1000 } as const
    const later = { role: "responder", establishedAt: 1000 + windowMs + 1 } as const
    expect(keepWhich({ existing: ours, incoming: later, self: low, peer: high, windowMs })).toBe("incoming")
  })
})

describe("keep-alive", () => {
  const o = { keepAliveMs: 30_000, deadAfterMs: 90_000, idleCloseMs: 600_000 }

  it("waits while records arrive, pings after the silence, and again each period", () => {
    expect(keepAliveStep({ lastReceived: 0, lastApp: 0, lastPing: 0 }, 10_000, o)).toEqual({
      _tag: "Wait",
      ping: false,
      untilMs: 30_000
    })
    expect(keepAliveStep({ lastReceived: 0, lastApp: 0, lastPing: 0 }, 30_000, o)).toEqual({
      _tag: "Wait",
      ping: true,
      untilMs: 60_000
    })
    expect(keepAliveStep({ lastReceived: 0, lastApp: 0, lastPing: 30_000 }, 45_000, o)).toEqual({
      _tag: "Wait",
      ping: false,
      untilMs: 60_000
    })
  })

  it("declares the peer dead after deadAfter of silence, and the session idle without application messages", () => {
    expect(keepAliveStep({ lastReceived: 0, lastApp: 0, lastPing: 60_000 }, 90_000, o)._tag).toBe("Dead")
    // Pongs keep arriving, but nobody wrote anything for 10 minutes.
    expect(keepAliveStep({ lastReceived: 599_000, lastApp: 0, lastPing: 570_000 }, 600_000, o)._tag).toBe("Idle")
  })
})
