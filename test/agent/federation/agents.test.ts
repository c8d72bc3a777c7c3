/**
 * Agents of two domains (PROTOCOL.md §22.3, §22.4.1): alice@example.org and carol@other.net, each trusting
 * only its own domain's root, find each other through their home IRP (scripted relaying, `./world.ts`),
 * dial each other directly over loopback TCP and verify each other under the right root: the one their
 * home IRP relayed and they pinned, chosen by the handle's domain. A peer whose chain comes from a third
 * CA claiming other.net, a root that could vouch outside other.net, and a domain the IRP refuses are all
 * refused; a changed root is a domain key change, held under strict keys until `trust @other.net`.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, describe } from "vitest"
import type { DomainName } from "../../../src/domain/agent/domainRoots.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TestPki from "../../../src/testing/pki.js"
import { delivered, eventually, failedAttempt, startAgent } from "./harness.js"
import { makeWorld } from "./world.js"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "sixchat-fed-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const otherNet = "other.net" as DomainName
const exampleOrg = "example.org" as DomainName

/** Two domains, alice and carol, and the federation between them. */
const setup = Effect.gen(function* () {
  const example = yield* TestPki.make({ domain: "example.org" })
  const other = yield* TestPki.make({ domain: "other.net" })
  const alice = yield* example.identity("alice@example.org")
  const carol = yield* other.identity("carol@other.net")
  const world = makeWorld()
  world.domains.set("example.org", { root: example.rootCertificate, policy: "open" })
  world.domains.set("other.net", { root: other.rootCertificate, policy: "open" })
  return { example, other, alice, carol, world }
}).pipe(Effect.provide(EntropyLive.layer))

const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

describe("agents of two domains", () => {
  it.live("exchange messages both ways, each verifying the other under the other's pinned root", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, other, alice, carol, world } = yield* setup
        const a = yield* startAgent(world, alice, example.rootCertificate, tempDir())
        const c = yield* startAgent(world, carol, other.rootCertificate, tempDir())

        expect(yield* a.agent.lookup(carol.handle)).toMatchObject({ status: "active", online: true })
        const hello = yield* a.agent.send(carol.handle, "hello from example.org")
        yield* delivered(a.agent, hello.id)
        const back = yield* c.agent.send(alice.handle, "hello from other.net")
        yield* delivered(c.agent, back.id)

        const inboxOf = (agent: typeof a.agent, peer: typeof alice.handle) =>
          Effect.map(agent.history({ peer }), (h) => h.filter((m) => m.direction === "in").map((m) => m.body))
        expect(yield* inboxOf(c.agent, alice.handle)).toEqual(["hello from example.org"])
        expect(yield* inboxOf(a.agent, carol.handle)).toEqual(["hello from other.net"])

        // Each pinned the other's root, the one its IRP relayed (PROTOCOL.md §22.3.3).
        const alicePin = yield* a.roots.pinned(otherNet)
        const carolPin = yield* c.roots.pinned(exampleOrg)
        expect(bytesEqual(Buffer.from(alicePin!.root, "base64"), other.rootCertificate)).toBe(true)
        expect(bytesEqual(Buffer.from(carolPin!.root, "base64"), example.rootCertificate)).toBe(true)
        expect(alicePin!.subject).toMatch(/other\.net/)
        expect(yield* a.roots.pinned(exampleOrg)).toBeUndefined()
        // carol, answering alice's dial, had no pin of example.org: she asked her IRP (DomainInfo, relayed).
        expect(world.domainInfoAsked).toContainEqual({ by: carol.handle, domain: "example.org" })
        // The peer's certificate status was asked of the home IRP with domain= (relayed, §22.4).
        expect(world.statusAsked).toContainEqual({ by: alice.handle, domain: "other.net" })
        expect(world.statusAsked).toContainEqual({ by: carol.handle, domain: "example.org" })
        // No change was ever reported.
        expect(a.events.filter((e) => e._tag === "agent.DomainKeyChanged")).toEqual([])
        const contacts = yield* a.agent.contacts
        expect(contacts.map((x) => x.handle)).toEqual([carol.handle])
        expect(contacts[0]?.fingerprint).not.toBeNull()

        // domainInfo: the policy as relayed, and the pin.
        const info = yield* a.agent.domainInfo(otherNet)
        expect(info).toMatchObject({ domain: "other.net", policy: "open" })
        expect(info.pin?.fingerprint).toBe(alicePin!.fingerprint)
        expect(info.message).toMatch(/is the one pinned/)
        yield* c.stop
        yield* a.stop
      })
    )
  )

  it.live("a peer whose chain comes from a third CA claiming other.net is refused, both ways", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, alice, world } = yield* setup
        // The forger holds a CA for other.net (name-constrained like the real one) that nobody relayed.
        const forged = yield* TestPki.make({ domain: "other.net" }).pipe(Effect.provide(EntropyLive.layer))
        const fakeCarol = yield* forged.identity("carol@other.net").pipe(Effect.provide(EntropyLive.layer))
        const a = yield* startAgent(world, alice, example.rootCertificate, tempDir())
        // The forger's own agent trusts its forged root; the directory points carol@other.net at it.
        const f = yield* startAgent(world, fakeCarol, forged.rootCertificate, tempDir())

        yield* a.agent.send(fakeCarol.handle, "for the real carol only")
        const error = yield* failedAttempt(a.agent, fakeCarol.handle)
        expect(error).toMatch(
          /certificate was refused: .*Root CA, O=other\.net", which is neither a configured trust anchor/
        )
        expect((yield* a.agent.status).sessions).toEqual([])
        expect(yield* a.agent.contacts).toMatchObject([{ handle: fakeCarol.handle, fingerprint: null }])

        // The forger dials alice: alice, responding, verifies under other.net's pinned root and refuses.
        yield* f.agent.send(alice.handle, "I am carol")
        expect(yield* failedAttempt(f.agent, alice.handle)).toMatch(/refused|closed|ended|alert/i)
        expect(yield* a.agent.history({ peer: fakeCarol.handle })).toMatchObject([{ direction: "out" }])
        yield* f.stop
        yield* a.stop
      })
    )
  )

  it.live("a relayed root that permits handles outside other.net is never pinned; the peer is refused", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, other, alice, carol, world } = yield* setup
        // The home IRP relays example.org's root as other.net's: its constraints are outside other.net.
        world.domains.set("other.net", { root: example.rootCertificate, policy: "open" })
        const a = yield* startAgent(world, alice, example.rootCertificate, tempDir())
        const c = yield* startAgent(world, carol, other.rootCertificate, tempDir())
        yield* a.agent.send(carol.handle, "hi")
        const error = yield* failedAttempt(a.agent, carol.handle)
        expect(error).toMatch(/The CA of other\.net is not available .*permits handles outside other\.net/)
        expect(yield* a.roots.pinned(otherNet)).toBeUndefined()
        const refused = yield* Effect.flip(a.agent.domainInfo(otherNet))
        expect(refused.reason).toBe("Refused")
        expect(refused.message).toMatch(/outside other\.net/)
        yield* c.stop
        yield* a.stop
      })
    )
  )

  it.live("federation_refused is Refused with the IRP's sentence; federation_unavailable is Unavailable", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, alice, carol, world } = yield* setup
        const a = yield* startAgent(world, alice, example.rootCertificate, tempDir())
        world.domains.get("other.net")!.failing = "federation_refused"
        const refused = yield* Effect.flip(a.agent.lookup(carol.handle))
        expect(refused).toMatchObject({
          reason: "Refused",
          message: "other.net does not accept federation from example.org."
        })
        expect((yield* Effect.flip(a.agent.domainInfo(otherNet))).reason).toBe("Refused")
        world.domains.get("other.net")!.failing = "federation_unavailable"
        const unavailable = yield* Effect.flip(a.agent.lookup(carol.handle))
        expect(unavailable.reason).toBe("Unavailable")
        expect(unavailable.message).toMatch(/did not answer within 5 s/)
        expect((yield* Effect.flip(a.agent.domainInfo(otherNet))).reason).toBe("Unavailable")
        expect(yield* a.agent.contacts).toEqual([])
        yield* a.stop
      })
    )
  )

  it.live("a changed root is a domain key change: held under strict keys until trust @other.net", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, other, alice, carol, world } = yield* setup
        const a = yield* startAgent(world, alice, example.rootCertificate, tempDir(), { strictKeys: true })
        let c = yield* startAgent(world, carol, other.rootCertificate, tempDir())
        const first = yield* a.agent.send(carol.handle, "before the change")
        yield* delivered(a.agent, first.id)
        const pinnedBefore = (yield* a.roots.pinned(otherNet))!.fingerprint
        yield* c.stop

        // other.net's operator makes a new CA; carol is enrolled under it.
        const renewed = yield* TestPki.make({ domain: "other.net" }).pipe(Effect.provide(EntropyLive.layer))
        const carol2 = yield* renewed.identity("carol@other.net").pipe(Effect.provide(EntropyLive.layer))
        world.domains.set("other.net", { root: renewed.rootCertificate, policy: "open" })
        c = yield* startAgent(world, carol2, renewed.rootCertificate, tempDir())

        const second = yield* a.agent.send(carol.handle, "after the change")
        const change = yield* eventually(
          Effect.sync(() => a.events.find((e) => e._tag === "agent.DomainKeyChanged")),
          "a domain key change event"
        )
        expect(change).toMatchObject({ change: { domain: "other.net", previous: pinnedBefore, status: "pending" } })
        yield* failedAttempt(a.agent, carol.handle)
        const pin = (yield* a.roots.pinned(otherNet))!
        expect(pin.fingerprint).toBe(pinnedBefore)
        expect(pin.pendingChange?.status).toBe("pending")
        expect(yield* a.agent.domainKeyChanges(otherNet)).toMatchObject([{ status: "pending" }])
        expect((yield* a.agent.history({ peer: carol.handle })).find((m) => m.id === second.id)?.state).not.toBe(
          "delivered"
        )

        const accepted = yield* a.agent.trustDomain(otherNet)
        expect(accepted).toMatchObject({ domain: "other.net", status: "accepted" })
        // carol's chain now verifies; her key is new too, a contact key change held the same way (§13.5.3).
        const keyChange = yield* eventually(
          Effect.map(a.agent.keyChanges(carol.handle), (all) => all.find((k) => k.status === "pending")),
          "carol's key change"
        )
        expect(keyChange.current).not.toBe(keyChange.previous)
        yield* a.agent.trust(carol.handle)
        yield* delivered(a.agent, second.id)
        expect((yield* a.roots.pinned(otherNet))!.previous).toBe(pinnedBefore)
        // Nothing left to trust.
        expect((yield* Effect.flip(a.agent.trustDomain(otherNet))).reason).toBe("NotFound")
        yield* c.stop
        yield* a.stop
      })
    )
  )

  it.live("without strict keys a changed root is accepted at once and stays on record", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, other, alice, carol, world } = yield* setup
        const a = yield* startAgent(world, alice, example.rootCertificate, tempDir())
        let c = yield* startAgent(world, carol, other.rootCertificate, tempDir())
        yield* delivered(a.agent, (yield* a.agent.send(carol.handle, "one")).id)
        yield* c.stop
        const renewed = yield* TestPki.make({ domain: "other.net" }).pipe(Effect.provide(EntropyLive.layer))
        const carol2 = yield* renewed.identity("carol@other.net").pipe(Effect.provide(EntropyLive.layer))
        world.domains.set("other.net", { root: renewed.rootCertificate, policy: "open" })
        c = yield* startAgent(world, carol2, renewed.rootCertificate, tempDir())
        yield* delivered(a.agent, (yield* a.agent.send(carol.handle, "two")).id)
        expect(yield* a.agent.domainKeyChanges()).toMatchObject([{ domain: "other.net", status: "accepted" }])
        expect(a.events.filter((e) => e._tag === "agent.DomainKeyChanged")).toMatchObject([
          { change: { status: "accepted" } }
        ])
        yield* c.stop
        yield* a.stop
      })
    )
  )
})
