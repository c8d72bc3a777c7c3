/**
 * The Federation relay against test-double foreign IRPs on real loopback TCP (PROTOCOL.md §22.2, 22.3.3,
 * 22.4, 22.5): a lookup gives the foreign chain plus the domain's root, one session per domain carries
 * every request, the foreign IRP is authenticated under the public anchors as `irp.D` only, its answers
 * are checked, its refusals relayed, and our policy applied before anything is sent.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Layer, type Scope } from "effect"
import type { SerialHex } from "../../src/domain/irp/certificates.js"
import * as TestPki from "../../src/testing/pki.js"
import {
  baseLayer,
  directory,
  federation,
  handleOf,
  makePublicCa,
  OURS,
  type PublicCa,
  startFakeIrp
} from "./relaySupport.js"

const names = ["irp.example.org", "irp.other.net", "irp.third.net", "irp.evil.net"]

/** other.net with carol and dave, its fake IRP (options as given), and the Federation of example.org. */
const world = (
  ca: PublicCa,
  fakeOptions: Partial<Parameters<typeof startFakeIrp>[0]> = {},
  federationOptions: Parameters<typeof federation>[2] = {}
) =>
  Effect.gen(function* () {
    const pki = yield* TestPki.make({ domain: "other.net" })
    const carol = yield* pki.identity("carol@other.net")
    const dave = yield* pki.identity("dave@other.net")
    const fake = yield* startFakeIrp({
      pki,
      publicChain: yield* ca.server("irp.other.net"),
      users: new Map([
        ["carol@other.net", carol.chain],
        ["dave@other.net", dave.chain]
      ]),
      callerAnchors: [ca.root],
      ...fakeOptions
    })
    const dir = directory()
    dir.at.set("other.net", fake.address)
    const fed = yield* federation(ca, dir, federationOptions)
    return { pki, carol, dave, fake, dir, fed }
  })

const failure = <A, E extends { reason: string; message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => ({ reason: e.reason, message: e.message }))

/** A test on real time and real loopback TCP (timeouts must fire). */
const live = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope | Layer.Layer.Success<typeof baseLayer>>
) => it.scopedLive(name, () => Effect.provide(body(), baseLayer))

describe("Federation relay", () => {
  live("a lookup gives the foreign chain and other.net's root; the caller presented irp.example.org", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { pki, carol, fake, fed } = yield* world(ca)
      const record = yield* fed.lookup(handleOf("carol@other.net"))
      expect(record.handle).toBe("carol@other.net")
      expect(record.status).toBe("good")
      expect(record.chain).toEqual(carol.chain)
      expect(record.domainRoot?.root).toEqual(pki.rootCertificate)
      expect(fake.callers).toEqual([[`irp.${OURS}`]])
      expect(fake.requests.map((r) => r._tag)).toEqual(["irp.Ping", "irp.DomainInfo", "irp.Lookup"])
      // DomainInfo without `domain`: the foreign IRP answers for itself, nothing is relayed further.
      expect(fake.requests[1]).not.toHaveProperty("domain")
    })
  )

  live("one TCP connection carries every request; concurrent first calls share one dial", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fake, fed } = yield* world(ca)
      yield* Effect.all(
        Array.from({ length: 8 }, (_, i) => fed.lookup(handleOf(i % 2 === 0 ? "carol@other.net" : "dave@other.net"))),
        { concurrency: "unbounded" }
      )
      for (let i = 0; i < 5; i++) yield* fed.lookup(handleOf("carol@other.net"))
      yield* fed.status("other.net", "a1b" as SerialHex)
      yield* fed.domainInfo("other.net")
      expect(fake.accepts()).toBe(1)
      // The root is asked once (when the session opened) and then served from the cache.
      expect(fake.requests.filter((r) => r._tag === "irp.DomainInfo")).toHaveLength(1)
      expect(fake.requests.filter((r) => r._tag === "irp.Lookup")).toHaveLength(13)
    })
  )

  live("status and domainInfo are relayed: the staple is asked for, the root comes back checked", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { pki, fake, fed } = yield* world(ca)
      const status = yield* fed.status("other.net", "a1b" as SerialHex, { staple: true })
      expect(status).toMatchObject({ serial: "a1b", status: "good" })
      const status2 = fake.requests.find((r) => r._tag === "irp.Status")
      expect(status2).toMatchObject({ serial: "a1b", staple: true })
      expect(status2).not.toHaveProperty("domain")
      const info = yield* fed.domainInfo("Other.NET")
      expect(info.domain).toBe("other.net")
      expect(info.policy).toBe("open")
      expect(info.root).toEqual(pki.rootCertificate)
    })
  )

  live("a server presenting a public chain for irp.evil.net is refused: Unavailable", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fed } = yield* world(ca, { publicChain: yield* ca.server("irp.evil.net") })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/^the IRP of other\.net could not be reached: .*certificate we do not accept/)
    })
  )

  live("a server without a public chain (its domain chain only) is refused: Unavailable", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fed, fake } = yield* world(ca, { publicChain: undefined })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/certificate we do not accept/)
      expect(fake.requests).toEqual([])
    })
  )

  live("a foreign IRP that refuses our certificate (it does not trust our CA) is Refused, naming the domain", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const otherCa = yield* makePublicCa(names)
      const { fed } = yield* world(ca, { callerAnchors: [otherCa.root] })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Refused")
      expect(e.message).toMatch(/^the IRP of other\.net refused this IRP's certificate/)
    })
  )

  live("a foreign IRP whose DomainInfo answers for another domain is refused", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fed, fake } = yield* world(ca, { claims: "third.net" })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/is the IRP of third\.net, not of other\.net/)
      expect(fake.requests.some((r) => r._tag === "irp.Lookup")).toBe(false)
    })
  )

  live("a LookupResult carrying someone else's certificate is a protocol error, never relayed", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const pki = yield* TestPki.make({ domain: "other.net" })
      const dave = yield* pki.identity("dave@other.net")
      const { fed } = yield* world(ca, {
        pki,
        users: new Map([["carol@other.net", dave.chain]])
      })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/answered a Lookup of carol@other\.net with a certificate for dave@other\.net/)
    })
  )

  live("the foreign IRP's not_found is NotFound, its federation_refused is Refused with its sentence", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fed } = yield* world(ca, {
        answer: (r) =>
          Effect.succeed(
            r._tag === "irp.Status"
              ? {
                  _tag: "irp.Error",
                  id: r.id,
                  code: "federation_refused",
                  message: "other.net does not accept federation from example.org"
                }
              : null
          )
      })
      expect(yield* failure(fed.lookup(handleOf("erin@other.net")))).toEqual({
        reason: "NotFound",
        message: "erin@other.net is not known here"
      })
      expect(yield* failure(fed.status("other.net", "a" as SerialHex))).toEqual({
        reason: "Refused",
        message: "other.net does not accept federation from example.org"
      })
    })
  )

  live("policy closed refuses every domain before any DNS query; allow only the listed ones", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const closed = yield* world(ca, {}, { policy: { mode: "closed", domains: [] } })
      expect(yield* failure(closed.fed.lookup(handleOf("carol@other.net")))).toEqual({
        reason: "Refused",
        message: "example.org does not federate"
      })
      expect(yield* failure(closed.fed.domainInfo("other.net"))).toMatchObject({ reason: "Refused" })
      expect(closed.dir.asked()).toBe(0)
      expect(closed.fake.accepts()).toBe(0)

      const allow = yield* world(ca, {}, { policy: { mode: "allow", domains: ["other.net"] } })
      expect((yield* allow.fed.lookup(handleOf("carol@other.net"))).handle).toBe("carol@other.net")
      expect(yield* failure(allow.fed.lookup(handleOf("zoe@third.net")))).toEqual({
        reason: "Refused",
        message: "example.org does not federate with third.net"
      })
      expect(yield* failure(allow.fed.lookup(handleOf("bob@example.org")))).toMatchObject({ reason: "Refused" })
    })
  )

  live("a session that dies is dropped and dialled again on the next call", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fake, fed } = yield* world(ca)
      yield* fed.lookup(handleOf("carol@other.net"))
      yield* fake.closeAll
      // Whether a lookup still meets the closing session or the next one is a race of the two ends; each
      // lookup succeeds either way (a dead reused session is dialled again), and the session is replaced.
      for (let i = 0; i < 100 && fake.accepts() < 2; i++) {
        const again = yield* fed.lookup(handleOf("dave@other.net"))
        expect(again.handle).toBe("dave@other.net")
        yield* Effect.sleep("10 millis")
      }
      expect(fake.accepts()).toBe(2)
    })
  )

  live("a domain with no IRP in DNS is Unavailable, naming the discovery failure", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const { fed } = yield* world(ca)
      const e = yield* failure(fed.lookup(handleOf("zoe@third.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/^the IRP of third\.net could not be found: third\.net has no _sixchat-irp/)
    })
  )
})
