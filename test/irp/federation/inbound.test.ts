/**
 * Another domain's IRP as a caller of ours (PROTOCOL.md §22.2.5, §22.5, §22.6), over real loopback TCP:
 * example.org's IRP verifies other.net's public chain under the (test) public anchors, takes the caller
 * to be the IRP of other.net, answers it only about example.org, only with the requests of §22.2.5,
 * only when its policy accepts other.net, and within the per-domain rate limit.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { PublicIdentity } from "../../../src/layers/ca/DomainDirectory.js"
import * as TestPki from "../../../src/testing/pki.js"
import { connect, enrol, handle, makeDomain, quietLayer, reasonOf, removeTempDirs } from "../protocol/support.js"
import { connectAsIrp, openPolicy, startFederated } from "./support.js"

afterAll(removeTempDirs)

/** "Public" CAs of the test: one issues irp.other.net, one irp.example.org (each constrained to its domain). */
const publicPkis = Effect.gen(function* () {
  const other = yield* TestPki.make({ domain: "other.net" })
  const example = yield* TestPki.make({ domain: "example.org" })
  const otherIrp: PublicIdentity = yield* other.server()
  const exampleIrp: PublicIdentity = yield* example.server()
  // Another certificate for the same name, as someone who got one from a public CA might present.
  const exampleImpostor: PublicIdentity = yield* example.server()
  return { anchors: [other.rootCertificate, example.rootCertificate], otherIrp, exampleIrp, exampleImpostor, example }
})

describe("IRP server: another domain's IRP as a caller", () => {
  it.live("open: other.net gets our public chain, looks up example.org's handles, is logged as irp.other.net", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: openPolicy,
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp
      })
      const alice = yield* enrol(running, "alice")
      const aliceClient = yield* connect(running, alice.identity)
      yield* aliceClient.register({
        deviceId: DeviceId.make("laptop"),
        addresses: [{ host: "192.0.2.1", port: 4605 } as never],
        ttlSeconds: 300,
        seq: Seq.make(1n)
      })

      const irp = yield* connectAsIrp(running, pki.otherIrp, pki.anchors)
      // §22.2.3: asked <Trust>public</Trust>, the server showed its public chain, not its domain chain.
      expect(irp.server?.path[0]).toEqual(pki.exampleIrp.chain[0])
      expect(irp.server?.path.at(-1)).toEqual(pki.example.rootCertificate)
      expect(irp.handle).toBeUndefined()

      const found = yield* irp.lookup(alice.handle)
      expect(found.status).toBe("good")
      expect(found.chain[0]).toEqual(alice.identity.chain[0])
      expect(found.bindings.map((b) => b.deviceId)).toEqual(["laptop"])
      expect(found.domainRoot).toBeUndefined()
      expect((yield* irp.status(alice.serial as never)).status).toBe("good")
      const info = yield* irp.domainInfo("example.org")
      expect(info.domain).toBe("example.org")
      expect(info.policy).toBe("open")
      expect(info.root).toEqual(running.domain.rootCertificate)
      const changes = yield* irp.watch([alice.handle])
      const pushed = yield* Effect.fork(Stream.runHead(changes))
      yield* aliceClient.register({
        deviceId: DeviceId.make("phone"),
        addresses: [{ host: "192.0.2.2", port: 4605 } as never],
        ttlSeconds: 300,
        seq: Seq.make(1n)
      })
      const change = yield* Fiber.join(pushed)
      expect(Option.getOrThrow(change).bindings.map((b) => b.deviceId)).toEqual(["laptop", "phone"])
      yield* irp.ping

      const lines = running.log.filter((r) => r.peer === "irp.other.net")
      expect(lines.map((r) => `${r.request}:${r.outcome}`)).toEqual([
        "Ping:ok",
        "Lookup:ok",
        "Status:ok",
        "DomainInfo:ok",
        "Watch:ok",
        "Ping:ok"
      ])

      // A local user still connects with the domain's own chain (the domain root is tried first).
      const again = yield* connect(running, alice.identity)
      expect(again.handle).toBe("alice@example.org")
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("a federation caller may not enrol, register, renew, revoke, fetch the CRL, or ask about other domains", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: openPolicy,
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp
      })
      const alice = yield* enrol(running, "alice")
      const irp = yield* connectAsIrp(running, pki.otherIrp, pki.anchors)
      const register = irp.register({
        deviceId: DeviceId.make("x"),
        addresses: [{ host: "192.0.2.1", port: 4605 } as never],
        ttlSeconds: 300,
        seq: Seq.make(1n)
      })
      expect(yield* reasonOf(register)).toBe("forbidden")
      expect(yield* reasonOf(irp.enroll({ handle: handle("eve"), token: "sxe1-x", csr: new Uint8Array([48]) }))).toBe(
        "forbidden"
      )
      expect(yield* reasonOf(irp.renew(new Uint8Array([48, 0])))).toBe("forbidden")
      expect(yield* reasonOf(irp.revoke(alice.serial as never))).toBe("forbidden")
      expect(yield* reasonOf(irp.crl)).toBe("forbidden")
      expect(yield* reasonOf(irp.deregisterAll)).toBe("forbidden")
      // Only example.org's handles and certificates: no relaying on (§22.2.5).
      expect(yield* reasonOf(irp.lookup(handle("carol", "third.net")))).toBe("forbidden")
      expect(yield* reasonOf(irp.status(alice.serial as never, { domain: "third.net" }))).toBe("forbidden")
      expect(yield* reasonOf(irp.domainInfo("third.net", { relay: true }))).toBe("forbidden")
      expect(yield* reasonOf(irp.watch([handle("carol", "third.net")]))).toBe("forbidden")
      // Still usable afterwards.
      expect((yield* irp.lookup(alice.handle)).status).toBe("good")
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("closed with a public chain: another domain's IRP is answered federation_refused, naming both domains", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: { mode: "closed", domains: [] },
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp
      })
      // Authenticated (the public chain verified), then refused: the client's first Ping already says why.
      const refused = yield* Effect.flip(Effect.scoped(connectAsIrp(running, pki.otherIrp, pki.anchors)))
      expect(refused.reason).toBe("federation_refused")
      expect(refused.serverMessage).toBe("example.org does not accept federation from other.net.")
      expect(running.log.filter((r) => r.peer === "irp.other.net").map((r) => r.outcome)).toContain(
        "federation_refused"
      )
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("closed without a public chain: the public anchors are not tried, another IRP fails its handshake", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: { mode: "closed", domains: [] },
        publicAnchors: pki.anchors
      })
      const failure = yield* Effect.flip(Effect.scoped(connectAsIrp(running, pki.otherIrp, pki.anchors)))
      // Asked <Trust>public</Trust>, the server has only its domain chain, which the caller refuses.
      expect(failure.reason).toBe("Channel")
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("allow: a listed domain is answered; an unlisted one gets federation_refused naming both domains", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const domain = yield* Effect.promise(() => makeDomain())
      const listed = yield* startFederated(domain, {
        policy: { mode: "allow", domains: ["other.net"] },
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp
      })
      const alice = yield* enrol(listed, "alice")
      const irp = yield* connectAsIrp(listed, pki.otherIrp, pki.anchors)
      expect((yield* irp.lookup(alice.handle)).status).toBe("good")

      const unlisted = yield* startFederated(domain, {
        policy: { mode: "allow", domains: ["third.net"] },
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp
      })
      const refused = yield* Effect.flip(Effect.scoped(connectAsIrp(unlisted, pki.otherIrp, pki.anchors)))
      expect(refused.reason).toBe("federation_refused")
      expect(refused.message).toContain("example.org does not accept federation from other.net.")
      expect(unlisted.log.map((r) => [r.peer, r.outcome])).toEqual([["irp.other.net", "federation_refused"]])
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("the asking domain has its own token bucket, shared by its connections", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: openPolicy,
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp,
        server: {
          rateLimits: {
            anonymous: { burst: 1000, perSecond: 1000 },
            authenticated: { burst: 1000, perSecond: 1000 },
            federation: { burst: 4, perSecond: 0.001 },
            maxTrackedKeys: 100
          }
        }
      })
      const alice = yield* enrol(running, "alice")
      const first = yield* connectAsIrp(running, pki.otherIrp, pki.anchors) // its Ping: 1
      const second = yield* connectAsIrp(running, pki.otherIrp, pki.anchors) // 2
      yield* first.lookup(alice.handle) // 3
      yield* second.lookup(alice.handle) // 4
      const limited = yield* Effect.flip(first.lookup(alice.handle))
      expect(limited.reason).toBe("rate_limited")
      expect(limited.message).toContain("Too many requests from irp.other.net")
      expect(yield* reasonOf(second.ping)).toBe("rate_limited")
      // Local users are not charged to it.
      const aliceClient = yield* connect(running, alice.identity)
      expect((yield* aliceClient.lookup(alice.handle)).status).toBe("good")
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("a public certificate for irp.example.org itself is no federation caller", () =>
    Effect.gen(function* () {
      const pki = yield* publicPkis
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: openPolicy,
        publicAnchors: pki.anchors,
        publicIdentity: pki.exampleIrp
      })
      const failure = yield* Effect.flip(Effect.scoped(connectAsIrp(running, pki.exampleImpostor, pki.anchors)))
      expect(failure.reason).toBe("Channel")
      expect(failure.message).toContain("identity_mismatch")
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )
})
