/**
 * The Lookup answer cache on its own (`makeAnswerCache` in `lookup.ts`): bounds, expiry, invalidation, and the rule that
 * a read overtaken by a change does not fill it.
 */
import { describe, expect, it } from "vitest"
import { Handle } from "../../../src/domain/brands.js"
import * as AnswerCache from "../../../src/layers/irp/server/lookup.js"

const h = (name: string) => Handle.make(`${name}@example.org`)
const state = (status: AnswerCache.IdentityState["status"]): AnswerCache.IdentityState => ({
  status,
  chain: status === "unknown" ? [] : [new Uint8Array([1, 2, 3])],
  bindings: []
})

const setup = (maxEntries = 100, ttlMs = 1000) => {
  const revoked = new Set<string>()
  let version = 0
  const cache = AnswerCache.makeAnswerCache({
    maxEntries,
    ttlMs,
    revocations: { isRevoked: (serial) => revoked.has(serial), version: () => version }
  })
  const revoke = (serial: string) => {
    revoked.add(serial)
    version++
  }
  return { cache, revoke }
}

describe("Lookup answer cache", () => {
  it("serves what was put, the same object, until the TTL after the read", () => {
    const { cache } = setup(100, 1000)
    const good = state("good")
    cache.put(h("a"), cache.ticket(), good, "01", 10_000, Number.POSITIVE_INFINITY)
    expect(cache.get(h("a"), 10_999)).toBe(good)
    expect(cache.get(h("a"), 11_000)).toBeUndefined()
    expect(cache.get(h("b"), 10_000)).toBeUndefined()
  })

  it("expires at the earliest binding or certificate expiry when that comes first", () => {
    const { cache } = setup(100, 1000)
    cache.put(h("a"), cache.ticket(), state("good"), "01", 10_000, 10_400)
    expect(cache.get(h("a"), 10_399)).toBeDefined()
    expect(cache.get(h("a"), 10_400)).toBeUndefined()
    // Already expired: not even stored.
    cache.put(h("b"), cache.ticket(), state("good"), "02", 10_000, 10_000)
    expect(cache.size()).toBe(0)
  })

  it("forgets a handle on its change, and refuses a read that the change overtook", () => {
    const { cache } = setup()
    cache.put(h("a"), cache.ticket(), state("good"), "01", 0, Number.POSITIVE_INFINITY)
    cache.invalidate(h("a"))
    expect(cache.get(h("a"), 1)).toBeUndefined()
    // A read started, then a change of that handle, then the read ends: its result is not kept.
    const overtaken = cache.ticket()
    cache.invalidate(h("a"))
    cache.put(h("a"), overtaken, state("good"), "01", 2, Number.POSITIVE_INFINITY)
    expect(cache.get(h("a"), 3)).toBeUndefined()
    // A change of another handle does not matter.
    const other = cache.ticket()
    cache.invalidate(h("b"))
    cache.put(h("a"), other, state("good"), "01", 4, Number.POSITIVE_INFINITY)
    expect(cache.get(h("a"), 5)).toBeDefined()
  })

  it("clear forgets everything, reads in progress included", () => {
    const { cache } = setup()
    cache.put(h("a"), cache.ticket(), state("good"), "01", 0, Number.POSITIVE_INFINITY)
    const inProgress = cache.ticket()
    cache.clear()
    expect(cache.get(h("a"), 1)).toBeUndefined()
    cache.put(h("b"), inProgress, state("good"), "02", 1, Number.POSITIVE_INFINITY)
    expect(cache.size()).toBe(0)
    cache.put(h("b"), cache.ticket(), state("good"), "02", 1, Number.POSITIVE_INFINITY)
    expect(cache.size()).toBe(1)
  })

  it("stays correct past the number of changes it remembers", () => {
    const { cache } = setup()
    const early = cache.ticket()
    for (let i = 0; i < 10_000; i++) cache.invalidate(h(`other${i}`))
    // Whether or not `a` changed is forgotten by now: the early read is refused to be safe.
    cache.put(h("a"), early, state("good"), "01", 0, Number.POSITIVE_INFINITY)
    expect(cache.get(h("a"), 1)).toBeUndefined()
    const late = cache.ticket()
    cache.put(h("a"), late, state("good"), "01", 0, Number.POSITIVE_INFINITY)
    expect(cache.get(h("a"), 1)).toBeDefined()
  })

  it("drops a good answer once its certificate is revoked, and any other once the revocations grow", () => {
    const { cache, revoke } = setup()
    cache.put(h("a"), cache.ticket(), state("good"), "0a", 0, Number.POSITIVE_INFINITY)
    cache.put(h("b"), cache.ticket(), state("good"), "0b", 0, Number.POSITIVE_INFINITY)
    cache.put(h("nobody"), cache.ticket(), state("unknown"), undefined, 0, Number.POSITIVE_INFINITY)
    revoke("0a")
    expect(cache.get(h("a"), 1)).toBeUndefined()
    expect(cache.get(h("b"), 1)).toBeDefined()
    // An unknown handle may be the one whose revocation was just learnt of.
    expect(cache.get(h("nobody"), 1)).toBeUndefined()
  })

  it("keeps at most maxEntries, dropping the least recently used; 0 keeps nothing", () => {
    const { cache } = setup(2)
    const put = (name: string) => cache.put(h(name), cache.ticket(), state("good"), name, 0, Number.POSITIVE_INFINITY)
    put("a")
    put("b")
    expect(cache.get(h("a"), 1)).toBeDefined() // a is now the most recently used
    put("c")
    expect([cache.get(h("a"), 1), cache.get(h("b"), 1), cache.get(h("c"), 1)].map((s) => s !== undefined)).toEqual([
      true,
      false,
      true
    ])
    expect(cache.size()).toBe(2)
    const off = setup(0).cache
    off.put(h("a"), off.ticket(), state("good"), "01", 0, Number.POSITIVE_INFINITY)
    expect(off.size()).toBe(0)
  })
})
