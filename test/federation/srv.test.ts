/**
 * RFC 2782 ordering with seeded randomness (PROTOCOL.md §21.3): pure, so a seed reproduces an order.
 */
import { describe, expect, it } from "vitest"
import type { SrvRecord } from "../../src/domain/federation/discovery.js"
import { normalizeDomain, parseDnsServer } from "../../src/domain/federation/discovery.js"
import { orderSrv, seededRandom } from "../../src/domain/federation/srv.js"

const rec = (target: string, priority: number, weight: number, port = 4604): SrvRecord => ({
  target,
  port,
  priority,
  weight
})

const names = (records: ReadonlyArray<SrvRecord>, seed: number) => {
  const order = orderSrv(records, seed)
  if (order._tag !== "Ordered") throw new Error("refused")
  return order.records.map((r) => r.target)
}

describe("SRV ordering (RFC 2782)", () => {
  it("puts every record of a lower priority before any of a higher one, whatever the weights", () => {
    const records = [rec("c", 30, 100), rec("a1", 10, 1), rec("b", 20, 1000), rec("a2", 10, 5)]
    for (let seed = 0; seed < 200; seed++) {
      const order = names(records, seed)
      expect(new Set(order.slice(0, 2))).toEqual(new Set(["a1", "a2"]))
      expect(order.slice(2)).toEqual(["b", "c"])
    }
  })

  it("is a function of the seed: the same seed gives the same order, different seeds both orders", () => {
    const records = [rec("x", 10, 50), rec("y", 10, 50)]
    expect(names(records, 42)).toEqual(names(records, 42))
    const firsts = new Set(Array.from({ length: 50 }, (_, seed) => names(records, seed)[0]))
    expect(firsts).toEqual(new Set(["x", "y"]))
  })

  it("picks a target first in proportion to its weight (60/20/20 over 10 000 seeds, within 3 points)", () => {
    const records = [rec("heavy", 10, 60), rec("light1", 10, 20), rec("light2", 10, 20)]
    const counts = new Map<string, number>()
    const n = 10_000
    for (let seed = 0; seed < n; seed++) {
      const first = names(records, seed)[0]!
      counts.set(first, (counts.get(first) ?? 0) + 1)
    }
    // Draws are uniform over 0..100 inclusive (101 values): heavy wins 61 of them, each light one 20.
    expect(Math.abs(counts.get("heavy")! / n - 61 / 101)).toBeLessThan(0.03)
    expect(Math.abs(counts.get("light1")! / n - 20 / 101)).toBeLessThan(0.03)
    expect(Math.abs(counts.get("light2")! / n - 20 / 101)).toBeLessThan(0.03)
  })

  it("gives a weight-0 record a small chance only, and always keeps it in the list", () => {
    const records = [rec("zero", 10, 0), rec("some", 10, 100)]
    let zeroFirst = 0
    for (let seed = 0; seed < 2000; seed++) {
      const order = names(records, seed)
      expect(order).toHaveLength(2)
      if (order[0] === "zero") zeroFirst++
    }
    expect(zeroFirst).toBeGreaterThan(0)
    expect(zeroFirst / 2000).toBeLessThan(0.05)
  })

  it("refuses when the only target is the root ('.' or the empty name)", () => {
    expect(orderSrv([rec(".", 0, 0)], 1)._tag).toBe("Refused")
    expect(orderSrv([rec("", 0, 0, 1)], 1)._tag).toBe("Refused")
    expect(orderSrv([], 1)._tag).toBe("Refused")
  })

  it("ignores a '.' record next to real ones, and drops a duplicate target:port", () => {
    expect(names([rec(".", 0, 0), rec("real", 10, 1), rec("real", 20, 5)], 3)).toEqual(["real"])
    expect(names([rec("real", 10, 1), rec("real", 10, 1, 4700)], 3)).toHaveLength(2)
  })

  it("draws in [0, 1) from a seed, reproducibly", () => {
    const a = seededRandom(7)
    const b = seededRandom(7)
    for (let i = 0; i < 1000; i++) {
      const x = a()
      expect(x).toBe(b())
      expect(x).toBeGreaterThanOrEqual(0)
      expect(x).toBeLessThan(1)
    }
  })
})

describe("names", () => {
  it("accepts DNS domain names, lower-cased and without the trailing dot; refuses the rest", () => {
    expect(normalizeDomain("Other.NET.")).toBe("other.net")
    expect(normalizeDomain("3com.example")).toBe("3com.example")
    for (const bad of ["", "localhost", "a..b", "-a.net", "a-.net", "a b.net", "x".repeat(64) + ".net", "_srv.net"])
      expect(normalizeDomain(bad)).toBeUndefined()
  })

  it("takes a DNS server only as an IP literal with a port", () => {
    expect(parseDnsServer("127.0.0.1:5353")).toBe("127.0.0.1:5353")
    expect(parseDnsServer("[::1]:53")).toBe("[::1]:53")
    for (const bad of ["127.0.0.1", "dns.example:53", "256.0.0.1:53", "127.0.0.1:0", "127.0.0.1:70000", "::1:53"])
      expect(parseDnsServer(bad)).toBeUndefined()
  })
})
