/**
 * The pure parts of the federation relay (PROTOCOL.md §22.5, §22.6): the circuit breaker, the table of
 * foreign domains (LRU, idle entries dropped first) and the outbound policy.
 */
import { describe, expect, it } from "@effect/vitest"
import { admit, type Breaker, closedBreaker, failed, succeeded } from "../../src/domain/federation/breaker.js"
import { domainOfHandle, outboundRefusal } from "../../src/domain/federation/outbound.js"
import { SessionTable } from "../../src/domain/federation/sessionTable.js"

const policy = { failures: 3, openMs: 30_000 }

describe("circuit breaker", () => {
  it("opens after 3 consecutive failures, refuses until the period is over, then lets requests out", () => {
    let b: Breaker = closedBreaker
    b = failed(b, 1_000, policy)
    b = failed(b, 2_000, policy)
    expect(admit(b, 2_001)._tag).toBe("Allowed")
    b = failed(b, 3_000, policy)
    expect(b).toEqual({ _tag: "Open", until: 33_000 })
    expect(admit(b, 32_999)).toEqual({ _tag: "Refused", until: 33_000 })
    const after = admit(b, 33_000)
    expect(after).toEqual({ _tag: "Allowed", breaker: { _tag: "HalfOpen" } })
  })

  it("a success in between resets the count", () => {
    let b: Breaker = closedBreaker
    b = failed(failed(b, 1, policy), 2, policy)
    b = succeeded(b)
    b = failed(failed(b, 3, policy), 4, policy)
    expect(b).toEqual({ _tag: "Closed", failures: 2 })
  })

  it("half-open: one failure opens it again at once, one success closes it", () => {
    const half: Breaker = { _tag: "HalfOpen" }
    expect(failed(half, 50_000, policy)).toEqual({ _tag: "Open", until: 80_000 })
    expect(succeeded(half)).toEqual(closedBreaker)
  })

  it("a late failure of a request admitted before the breaker opened does not extend the period", () => {
    const open: Breaker = { _tag: "Open", until: 10_000 }
    expect(failed(open, 9_000, policy)).toBe(open)
  })
})

describe("session table", () => {
  it("drops the least recently used entry when full", () => {
    const t = new SessionTable<string, { busy: boolean }>(2)
    const a = { busy: false }
    const b = { busy: false }
    expect(t.store("a", a)).toEqual([])
    expect(t.store("b", b)).toEqual([])
    t.use("a") // b is now the least recently used
    expect(t.store("c", { busy: false })).toEqual([["b", b]])
    expect(t.peek("a")).toBe(a)
    expect(t.size).toBe(2)
  })

  it("drops idle entries before busy ones, and a busy one when all are busy (never grows)", () => {
    const t = new SessionTable<string, { busy: boolean }>(2)
    const a = { busy: true }
    const b = { busy: false }
    t.store("a", a)
    t.store("b", b)
    expect(t.store("c", { busy: true }, (v) => v.busy)).toEqual([["b", b]])
    expect(t.store("d", { busy: true }, (v) => v.busy)).toEqual([["a", a]])
    expect(t.size).toBe(2)
  })

  it("removes an entry only when it still holds the value", () => {
    const t = new SessionTable<string, number>(4)
    t.store("a", 1)
    t.remove("a", 2)
    expect(t.peek("a")).toBe(1)
    t.remove("a", 1)
    expect(t.peek("a")).toBeUndefined()
  })

  it("refuses a capacity below 1", () => {
    expect(() => new SessionTable(0)).toThrow(RangeError)
  })
})

describe("outbound policy", () => {
  it("closed refuses every domain, allow only the listed ones, open none; never our own domain", () => {
    expect(outboundRefusal("example.org", { mode: "closed", domains: [] }, "other.net")).toBe(
      "example.org does not federate"
    )
    const allow = { mode: "allow" as const, domains: ["other.net"] }
    expect(outboundRefusal("example.org", allow, "other.net")).toBeUndefined()
    expect(outboundRefusal("example.org", allow, "third.net")).toBe("example.org does not federate with third.net")
    expect(outboundRefusal("example.org", { mode: "open", domains: [] }, "third.net")).toBeUndefined()
    expect(outboundRefusal("example.org", { mode: "open", domains: [] }, "example.org")).toMatch(/own domain/)
  })

  it("reads a handle's domain", () => {
    expect(domainOfHandle("carol@Other.NET")).toBe("other.net")
    expect(domainOfHandle("carol")).toBeUndefined()
  })
})
