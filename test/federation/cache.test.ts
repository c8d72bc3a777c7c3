/**
 * The discovery cache policy (PROTOCOL.md §21.4), pure: TTL floor and cap, negative entries, expiry,
 * the bound on entries. The live layer's use of it is checked against dnsmasq in discovery.test.ts.
 */
import { describe, expect, it } from "vitest"
import * as Cache from "../../src/domain/federation/cache.js"
import { type Discovery, discoveryError } from "../../src/domain/federation/discovery.js"

const found = (domain: string, ttl: number): Cache.Cached => ({
  _tag: "Found",
  discovery: { domain, source: "fallback", ttl, targets: [] } satisfies Discovery
})

describe("discovery cache", () => {
  it("clamps TTLs to [5 s, 1 h]; a bogus TTL counts as 0, so the floor", () => {
    expect(Cache.clampTtl(0)).toBe(5)
    expect(Cache.clampTtl(60)).toBe(60)
    expect(Cache.clampTtl(86_400)).toBe(3_600)
    expect(Cache.clampTtl(Number.NaN)).toBe(5)
    expect(Cache.clampTtl(-3)).toBe(5)
  })

  it("serves an answer until its TTL ends, and not a millisecond after", () => {
    const t0 = 1_000_000
    const c = Cache.insert(Cache.emptyCache, "other.net", found("other.net", 60), t0)
    expect(Cache.lookup(c, "other.net", t0 + 59_999)?._tag).toBe("Found")
    expect(Cache.lookup(c, "other.net", t0 + 60_000)).toBeUndefined()
    expect(Cache.lookup(c, "else.net", t0)).toBeUndefined()
  })

  it("keeps a 0-second answer for the 5 s floor and a day-long one for 1 h only", () => {
    const c1 = Cache.insert(Cache.emptyCache, "a.net", found("a.net", 0), 0)
    expect(Cache.lookup(c1, "a.net", 4_999)).toBeDefined()
    expect(Cache.lookup(c1, "a.net", 5_000)).toBeUndefined()
    const c2 = Cache.insert(Cache.emptyCache, "b.net", found("b.net", 86_400), 0)
    expect(Cache.lookup(c2, "b.net", 3_599_999)).toBeDefined()
    expect(Cache.lookup(c2, "b.net", 3_600_000)).toBeUndefined()
  })

  it("caches answers about the domain for 30 s, and never a failure to get an answer", () => {
    const refused = discoveryError("ServiceRefused", "closed.net")
    const c = Cache.insert(Cache.emptyCache, "closed.net", { _tag: "Failed", error: refused }, 0)
    expect(Cache.lookup(c, "closed.net", 29_999)).toEqual({ _tag: "Failed", error: refused })
    expect(Cache.lookup(c, "closed.net", 30_000)).toBeUndefined()
    expect(Cache.isCacheable(refused)).toBe(true)
    expect(Cache.isCacheable(discoveryError("NotFound", "x.net"))).toBe(true)
    expect(Cache.isCacheable(discoveryError("Timeout", "x.net"))).toBe(false)
    expect(Cache.isCacheable(discoveryError("DnsFailure", "x.net"))).toBe(false)
  })

  it("holds at most maxEntries: expired entries go first, then the one that expires soonest", () => {
    const policy = { ...Cache.CachePolicy, maxEntries: 3 }
    let c = Cache.emptyCache
    c = Cache.insert(c, "short.net", found("short.net", 10), 0, policy)
    c = Cache.insert(c, "long.net", found("long.net", 600), 0, policy)
    c = Cache.insert(c, "mid.net", found("mid.net", 100), 0, policy)
    c = Cache.insert(c, "new.net", found("new.net", 300), 1_000, policy)
    expect(c.size).toBe(3)
    expect(Cache.lookup(c, "short.net", 1_000)).toBeUndefined()
    expect([...c.keys()].sort()).toEqual(["long.net", "mid.net", "new.net"])
    // At 20 s nothing has expired but short.net is gone already; a fifth name evicts mid.net (ends at 100 s).
    c = Cache.insert(c, "fifth.net", found("fifth.net", 300), 20_000, policy)
    expect([...c.keys()].sort()).toEqual(["fifth.net", "long.net", "new.net"])
    // Expired entries are dropped on insert without evicting live ones.
    c = Cache.insert(c, "late.net", found("late.net", 300), 400_000, policy)
    expect([...c.keys()].sort()).toEqual(["late.net", "long.net"])
  })

  it("replaces the entry of a domain stored again", () => {
    let c = Cache.insert(Cache.emptyCache, "a.net", found("a.net", 10), 0)
    c = Cache.insert(c, "a.net", found("a.net", 100), 5_000)
    expect(c.size).toBe(1)
    expect(Cache.lookup(c, "a.net", 50_000)).toBeDefined()
  })
})
