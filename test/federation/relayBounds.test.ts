/**
 * The bounds of the federation relay (PROTOCOL.md §22.6) on real loopback TCP: a hanging foreign IRP
 * costs its own domain's requests the (configurable) timeout and nothing else, the breaker opens after
 * 3 consecutive failures and lets requests out again after its period, requests to one domain are
 * capped (refused at once, never queued), and the table of foreign domains drops the least recently used.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, type Layer, Option, type Scope } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import { Transport } from "../../src/services/Transport.js"
import * as TestPki from "../../src/testing/pki.js"
import {
  awaitRequests,
  baseLayer,
  deadAddress,
  directory,
  type FakeIrpOptions,
  federation,
  handleOf,
  makePublicCa,
  type PublicCa,
  startFakeIrp
} from "./relaySupport.js"

const names = ["irp.example.org", "irp.other.net", "irp.third.net", "irp.fourth.net"]

const live = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope | Layer.Layer.Success<typeof baseLayer>>
) => it.scopedLive(name, () => Effect.provide(body(), baseLayer))

/** A fake IRP of `domain` knowing carol@domain. */
const foreign = (ca: PublicCa, domain: string, options: Partial<FakeIrpOptions> = {}) =>
  Effect.gen(function* () {
    const pki = yield* TestPki.make({ domain })
    const carol = yield* pki.identity(`carol@${domain}`)
    return yield* startFakeIrp({
      pki,
      publicChain: yield* ca.server(`irp.${domain}`),
      users: new Map([[`carol@${domain}`, carol.chain]]),
      callerAnchors: [ca.root],
      ...options
    })
  })

const neverLookup: FakeIrpOptions["answer"] = (r) => Effect.succeed(r._tag === "irp.Lookup" ? undefined : null)

const failure = <A, E extends { reason: string; message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => ({ reason: e.reason, message: e.message }))

describe("Federation relay bounds", () => {
  live("a foreign IRP that never answers costs the request its timeout (0.3 s here): Unavailable", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const hanging = yield* foreign(ca, "other.net", { answer: neverLookup })
      const dir = directory()
      dir.at.set("other.net", hanging.address)
      const fed = yield* federation(ca, dir, { bounds: { requestTimeout: "300 millis" } })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/^the IRP of other\.net could not be reached: .*did not answer Lookup within 0\.3 s/)
      // The session itself is fine: a request that is answered still goes through on it.
      expect((yield* fed.domainInfo("other.net")).domain).toBe("other.net")
      expect(hanging.accepts()).toBe(1)
    })
  )

  live("a request hanging at other.net does not hold up third.net", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const hanging = yield* foreign(ca, "other.net", { answer: neverLookup })
      const good = yield* foreign(ca, "third.net")
      const dir = directory()
      dir.at.set("other.net", hanging.address)
      dir.at.set("third.net", good.address)
      const fed = yield* federation(ca, dir, { bounds: { requestTimeout: "60 seconds" } })
      const stuck = yield* Effect.fork(fed.lookup(handleOf("carol@other.net")))
      yield* awaitRequests(hanging, 3) // Ping, DomainInfo, Lookup
      expect((yield* fed.lookup(handleOf("carol@third.net"))).handle).toBe("carol@third.net")
      expect(Option.isNone(yield* Fiber.poll(stuck))).toBe(true)
      yield* Fiber.interrupt(stuck)
    })
  )

  live("a foreign IRP that accepts TCP but never completes the handshake is bounded by the connect budget", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const transport = yield* Transport
      // Listening, never accepting: the kernel completes TCP, nobody ever answers our offer.
      const silent = yield* transport.listen(makeAddress("127.0.0.1", 0))
      const dir = directory()
      dir.at.set("other.net", silent.address)
      const fed = yield* federation(ca, dir, { bounds: { connectTimeout: "300 millis" } })
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/^the IRP of other\.net could not be reached: /)
    })
  )

  live("a foreign IRP that completes the handshake but never answers DomainInfo is bounded by the same budget", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const mute = yield* foreign(ca, "other.net", {
        answer: (r) => Effect.succeed(r._tag === "irp.DomainInfo" ? undefined : null)
      })
      const dir = directory()
      dir.at.set("other.net", mute.address)
      const fed = yield* federation(ca, dir, { bounds: { connectTimeout: "300 millis" } })
      const e = yield* failure(fed.domainInfo("other.net"))
      expect(e.reason).toBe("Unavailable")
      expect(e.message).toMatch(/did not answer DomainInfo within the 0\.3 s to open a session/)
    })
  )

  live("3 consecutive failures open the breaker: requests then fail at once; after the period they go out again", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const dir = directory()
      dir.at.set("other.net", yield* deadAddress)
      const fed = yield* federation(ca, dir, { bounds: { breakerOpen: "300 millis" } })
      for (let i = 0; i < 3; i++) {
        const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
        expect(e.message).toMatch(/could not be reached/)
      }
      expect(dir.asked()).toBe(3)
      const open = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(open.reason).toBe("Unavailable")
      expect(open.message).toMatch(/failed 3 times in a row: circuit open until \d{4}-\d\d-\d\dT/)
      expect(yield* failure(fed.status("other.net", "a" as never))).toMatchObject({ reason: "Unavailable" })
      expect(dir.asked()).toBe(3) // refused at once: not even a DNS query
      // After the period (slept, so it has passed), requests go out again and a success closes it.
      const fake = yield* foreign(ca, "other.net")
      dir.at.set("other.net", fake.address)
      yield* Effect.sleep("350 millis")
      expect((yield* fed.lookup(handleOf("carol@other.net"))).handle).toBe("carol@other.net")
      expect(dir.asked()).toBe(4)
    })
  )

  live("at most N requests to a domain are outstanding: one more fails at once, the others are served", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const release = yield* Deferred.make<void>()
      const fake = yield* foreign(ca, "other.net", {
        answer: (r) => (r._tag === "irp.Lookup" ? Effect.as(Deferred.await(release), null) : Effect.succeed(null))
      })
      const dir = directory()
      dir.at.set("other.net", fake.address)
      const fed = yield* federation(ca, dir, { bounds: { maxOutstanding: 2 } })
      const first = yield* Effect.fork(fed.lookup(handleOf("carol@other.net")))
      const second = yield* Effect.fork(fed.lookup(handleOf("carol@other.net")))
      yield* awaitRequests(fake, 4) // Ping, DomainInfo, Lookup, Lookup
      const e = yield* failure(fed.lookup(handleOf("carol@other.net")))
      expect(e).toEqual({
        reason: "Unavailable",
        message: "2 requests to the IRP of other.net are already in progress; try again later"
      })
      yield* Deferred.succeed(release, undefined)
      expect((yield* Fiber.join(first)).handle).toBe("carol@other.net")
      expect((yield* Fiber.join(second)).handle).toBe("carol@other.net")
      expect((yield* fed.lookup(handleOf("carol@other.net"))).handle).toBe("carol@other.net")
      expect(fake.requests.filter((r) => r._tag === "irp.Lookup")).toHaveLength(3)
    })
  )

  live("the table holds at most N foreign domains: the least recently used one's session is closed", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa(names)
      const dir = directory()
      const fakes = new Map<string, Effect.Effect.Success<ReturnType<typeof foreign>>>()
      for (const d of ["other.net", "third.net", "fourth.net"]) {
        const fake = yield* foreign(ca, d)
        fakes.set(d, fake)
        dir.at.set(d, fake.address)
      }
      const fed = yield* federation(ca, dir, { bounds: { maxDomains: 2 } })
      yield* fed.lookup(handleOf("carol@other.net"))
      yield* fed.lookup(handleOf("carol@third.net"))
      yield* fed.lookup(handleOf("carol@other.net")) // third.net is now the least recently used
      yield* fed.lookup(handleOf("carol@fourth.net")) // drops third.net
      yield* fed.lookup(handleOf("carol@other.net"))
      expect(fakes.get("other.net")!.accepts()).toBe(1)
      yield* fed.lookup(handleOf("carol@third.net")) // dialled again (drops other.net)
      expect(fakes.get("third.net")!.accepts()).toBe(2)
      expect(fakes.get("fourth.net")!.accepts()).toBe(1)
    })
  )
})
