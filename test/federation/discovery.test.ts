/**
 * DNS discovery of a domain's IRP against a real DNS server on loopback (dnsmasq; issue 14 section 1,
 * PROTOCOL.md §21): SRV order, the irp.D fallback, "." refusal, missing records, DNS failures that are
 * errors and not fallbacks, a server that never answers, the TTL cache (queries counted in dnsmasq's log).
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, TestClock } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { DiscoveryError } from "../../src/domain/federation/discovery.js"
import * as DnsResolverLive from "../../src/layers/federation/DnsResolverLive.js"
import { DomainResolver } from "../../src/services/DomainResolver.js"
import { DNSMASQ, type Dnsmasq, requireDnsmasqTest, startDnsmasq, startSilentServer } from "../support/dnsmasq.js"
import { records } from "./records.js"

requireDnsmasqTest()

const failure = <A>(effect: Effect.Effect<A, DiscoveryError>) =>
  Effect.flip(effect).pipe(Effect.map((e) => ({ reason: e.reason, message: e.message })))

describe.skipIf(DNSMASQ === undefined)("DNS discovery against dnsmasq", () => {
  let dns: Dnsmasq
  beforeAll(async () => {
    dns = await startDnsmasq(records)
  })
  afterAll(async () => {
    await dns?.stop()
  })
  const resolver = (options: DnsResolverLive.Options = {}) => DnsResolverLive.make({ server: dns.server, ...options })

  it.live("orders SRV targets by priority, gives AAAA before A, and keeps each target's TTL", () =>
    Effect.gen(function* () {
      const r = yield* resolver()
      const d = yield* r.discover("Other.Test.")
      expect(d.source).toBe("srv")
      expect(d.domain).toBe("other.test")
      expect(d.cached).toBe(false)
      const [a, b, c, e] = d.targets
      expect(new Set([a!.target, b!.target])).toEqual(new Set(["irp1.other.test", "irp2.other.test"]))
      expect(c).toEqual({ target: "irp3.other.test", port: 4611, priority: 20, weight: 0, addresses: [], ttl: 30 })
      expect(e).toEqual({ target: "irp4.other.test", port: 4612, priority: 30, weight: 5, addresses: ["::1"], ttl: 45 })
      const irp1 = d.targets.find((t) => t.target === "irp1.other.test")!
      expect(irp1).toEqual({
        target: "irp1.other.test",
        port: 4604,
        priority: 10,
        weight: 60,
        addresses: ["::1", "127.0.0.1"],
        ttl: 60
      })
      // The answer lives as long as its shortest-lived usable target.
      expect(d.ttl).toBe(45)
    })
  )

  it.live(
    "orders targets of one priority by weight: the weight-60 one comes first about 3 times in 4 (60 fresh lookups)",
    () =>
      Effect.gen(function* () {
        // A fresh resolver (and cache) per lookup, so each lookup draws a new order.
        let irp1First = 0
        for (let i = 0; i < 60; i++) {
          const r = yield* resolver()
          const d = yield* r.discover("other.test")
          if (d.targets[0]!.target === "irp1.other.test") irp1First++
        }
        // irp1 wins 61 of the 81 draws: expected 45 of 60, sd 3.3; each bound fails by chance < 1e-7.
        expect(irp1First).toBeGreaterThan(28)
        expect(irp1First).toBeLessThan(60)
      })
  )

  it.live("falls back to irp.D port 4604 when there is no SRV record", () =>
    Effect.gen(function* () {
      const d = yield* (yield* resolver()).discover("plain.test")
      expect(d).toEqual({
        domain: "plain.test",
        source: "fallback",
        cached: false,
        ttl: 120,
        targets: [{ target: "irp.plain.test", port: 4604, priority: 0, weight: 0, addresses: ["127.0.0.2"], ttl: 120 }]
      })
    })
  )

  it.live("refuses a '.' target with a typed error, and reports missing records as such", () =>
    Effect.gen(function* () {
      const r = yield* resolver()
      const closed = yield* failure(r.discover("closed.test"))
      expect(closed.reason).toBe("ServiceRefused")
      expect(closed.message).toMatch(/closed\.test publishes "\." .* runs no SixChat IRP/)
      expect((yield* failure(r.discover("nothing.test"))).reason).toBe("NotFound")
      expect((yield* failure(r.discover("noaddr.test"))).reason).toBe("NoAddress")
      expect((yield* failure(r.discover("many.test"))).reason).toBe("TooManyRecords")
      expect((yield* failure(r.discover("not a domain"))).reason).toBe("InvalidDomain")
    })
  )

  it.live("a DNS failure (REFUSED) is an error, not a silent fallback to irp.D", () =>
    Effect.gen(function* () {
      // dnsmasq is authoritative for *.test only and has no upstream: it refuses other names.
      const e = yield* failure((yield* resolver()).discover("outside.example"))
      expect(e.reason).toBe("DnsFailure")
      expect(e.message).toMatch(/EREFUSED/)
      expect(dns.queries("SRV", "_sixchat-irp._tcp.outside.example")).toBe(1)
      expect(dns.queries("A", "irp.outside.example")).toBe(0)
      expect(dns.queries("AAAA", "irp.outside.example")).toBe(0)
    })
  )

  it.effect("caches an answer for its TTL: no query until it ends, then one (TestClock)", () =>
    Effect.gen(function* () {
      const r = yield* resolver()
      const srvQueries = () => dns.queries("SRV", "_sixchat-irp._tcp.cached.test")
      const first = yield* r.discover("cached.test")
      expect([first.cached, first.ttl, srvQueries()]).toEqual([false, 60, 1])
      yield* TestClock.adjust(Duration.seconds(59))
      const second = yield* r.discover("cached.test")
      expect([second.cached, srvQueries(), dns.queries("A", "irp.cached.test")]).toEqual([true, 1, 1])
      yield* TestClock.adjust(Duration.seconds(1))
      const third = yield* r.discover("cached.test")
      expect([third.cached, srvQueries(), dns.queries("A", "irp.cached.test")]).toEqual([false, 2, 2])
    })
  )

  it.live("sends one set of queries for concurrent discoveries of one domain, and all of them get its answer", () =>
    Effect.gen(function* () {
      const r = yield* resolver()
      const all = yield* Effect.all(
        Array.from({ length: 12 }, () => r.discover("together.test")),
        { concurrency: "unbounded" }
      )
      expect(new Set(all.map((d) => JSON.stringify(d.targets)))).toEqual(
        new Set([
          JSON.stringify([
            { target: "irp.together.test", port: 4604, priority: 0, weight: 0, addresses: ["127.0.0.10"], ttl: 60 }
          ])
        ])
      )
      expect(all.filter((d) => !d.cached).length).toBe(12)
      // dnsmasq writes its query log a little after it answers: wait (bounded) until the queries are
      // logged and a moment more, so a second set of queries would have been logged too.
      const logged = () => dns.queries("SRV", "_sixchat-irp._tcp.together.test") + dns.queries("A", "irp.together.test")
      for (let i = 0; i < 100 && logged() < 2; i++) yield* Effect.sleep("20 millis")
      yield* Effect.sleep("300 millis")
      expect(dns.queries("SRV", "_sixchat-irp._tcp.together.test")).toBe(1)
      expect(dns.queries("A", "irp.together.test")).toBe(1)
      // Later callers read the cache the shared discovery filled.
      expect((yield* r.discover("together.test")).cached).toBe(true)
      expect(dns.queries("SRV", "_sixchat-irp._tcp.together.test")).toBe(1)
    })
  )

  it.effect("caches a '.' refusal for 30 s (negative caching)", () =>
    Effect.gen(function* () {
      const r = yield* resolver()
      const count = () => dns.queries("SRV", "_sixchat-irp._tcp.closedcache.test")
      expect((yield* failure(r.discover("closedcache.test"))).reason).toBe("ServiceRefused")
      yield* TestClock.adjust(Duration.seconds(29))
      expect((yield* failure(r.discover("closedcache.test"))).reason).toBe("ServiceRefused")
      expect(count()).toBe(1)
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* failure(r.discover("closedcache.test"))).reason).toBe("ServiceRefused")
      expect(count()).toBe(2)
    })
  )

  it.live("reads the server from SIXCHAT_DNS through Config, and refuses a malformed one", () =>
    Effect.gen(function* () {
      const withEnv = (value: string) =>
        DnsResolverLive.make().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SIXCHAT_DNS", value]])))
        )
      const d = yield* (yield* withEnv(dns.server)).discover("plain.test")
      expect(d.targets[0]!.addresses).toEqual(["127.0.0.2"])
      const bad = yield* Effect.flip(withEnv("dns.example:53"))
      expect(String(bad)).toMatch(/not a DNS server IP:PORT/)
      // As a layer, for services that depend on the port.
      const viaLayer = yield* Effect.flatMap(DomainResolver, (s) => s.discover("plain.test")).pipe(
        Effect.provide(DnsResolverLive.layer({ server: dns.server }))
      )
      expect(viaLayer.source).toBe("fallback")
    })
  )
})

describe("a DNS server that never answers", () => {
  it.live("gives a typed Timeout within the per-query bound, and the timeout is not cached", () =>
    Effect.gen(function* () {
      const silent = yield* Effect.acquireRelease(
        Effect.promise(() => startSilentServer()),
        (s) => Effect.promise(() => s.close())
      )
      const r = yield* DnsResolverLive.make({ server: silent.server, limits: { queryTimeoutMs: 500 } })
      const started = Date.now()
      const e = yield* failure(r.discover("other.test"))
      const elapsed = Date.now() - started
      expect(e.reason).toBe("Timeout")
      expect(e.message).toMatch(/did not answer about other\.test within 0\.5 s/)
      // A limit, not a speed measurement: the query bound (500 ms + 500 ms guard) with room for a loaded machine.
      expect(elapsed).toBeLessThan(5_000)
      const asked = silent.received()
      expect(asked).toBeGreaterThanOrEqual(1)
      expect((yield* failure(r.discover("other.test"))).reason).toBe("Timeout")
      expect(silent.received()).toBeGreaterThan(asked)
    }).pipe(Effect.scoped)
  )
})
