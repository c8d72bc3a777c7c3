/**
 * The federated simulation of issue 14, section 6: 15 User Agents, 5 in each of example.org, other.net
 * and third.org (three PKIs with name-constrained roots, `src/testing/pki.ts`), on the in-memory network
 * with the TestClock and seeded entropy. A seeded schedule sends messages between random pairs, within a
 * domain and across domains, while agents move to new host addresses and pairs of hosts are partitioned
 * and healed later. Then the network heals and time runs on until the outboxes drain.
 *
 * Every agent verifies peers of other domains through the real federation verifier
 * (`federatedVerifier`, PROTOCOL.md §22.3.2) over the real `DomainRootsLive` and the agent's own store: a
 * foreign root is fetched on first use and pinned (§22.3.3). Its "home IRP" is a stand-in that answers
 * the relayed `DomainInfo` (§22.4) from the three PKIs; lookups go to one shared MemoryDirectory (what
 * relayed lookups look like to the agent).
 *
 * Claims: every message sent is delivered exactly once (each receiver stores each id once, with the
 * right body, from the right sender; every sender's copy ends `delivered`); each agent pinned exactly
 * the real roots of the domains it talked to; an agent of other.net whose chain comes from a forged
 * other.net CA is refused by an example.org agent (nothing stored); sessions end every way (idle, dead
 * peer, replaced, connection failed); the same seed gives the same outcome and the same network trace.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Stream, TestClock } from "effect"
import type { DomainName } from "../../../src/domain/agent/domainRoots.js"
import { type Handle, handleDomain, makeAddress } from "../../../src/domain/brands.js"
import { parseCertificate } from "../../../src/domain/cert/parse.js"
import * as DomainRootsLive from "../../../src/layers/agent/irp/DomainRootsLive.js"
import { federatedVerifier } from "../../../src/layers/agent/irp/federatedVerifier.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import type { IrpClient } from "../../../src/services/IrpClient.js"
import { IrpClientError } from "../../../src/services/IrpClient.js"
import { IrpConnection, type IrpConnectionService } from "../../../src/services/IrpConnection.js"
import { Presence } from "../../../src/services/Presence.js"
import * as TestPki from "../../../src/testing/pki.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import * as SimNetwork from "../../support/SimNetwork.js"
import { memoryStore, recordEvents, startAgent } from "../core/helpers.js"
import * as MobileTransport from "./MobileTransport.js"
import {
  drainOutboxes,
  expectEachDeliveredOnce,
  expectSessionsEndedEveryWay,
  hostOf,
  lcg,
  runSchedule,
  sessionDowns
} from "./schedule.js"

const DOMAINS = ["example.org", "other.net", "third.org"] as const
const PER_DOMAIN = 5
const AGENTS = DOMAINS.length * PER_DOMAIN
/** Schedule ticks of 50 ms: 10 simulated seconds of traffic, moves and partitions. */
/** When the PKIs are made (their validity starts here) and, a minute later, when each run starts. */
const PKI_TIME = Date.UTC(2026, 0, 1)
const START = PKI_TIME + 60_000
const prefix = (domain: string) => domain[0]!

/** The same small timing knobs as the 20-agent simulation. */
const options = {
  keepAlive: "700 millis",
  deadAfter: "1800 millis",
  idleClose: "3 seconds",
  dialStagger: "50 millis",
  simultaneousWindow: "3 seconds",
  channel: { handshakeTimeout: "2 seconds", connectTimeout: "1 second" }
} as const
const retry = { baseMs: 100, maxMs: 2000 }

interface Person {
  readonly pki: TestPki.TestPki
  readonly identity: TestPki.TestIdentity
}

/** Three domains' PKIs, 5 people in each, and a forged other.net CA with one person (seeded: same keys every time). */
const makeWorld = Effect.gen(function* () {
  yield* TestClock.setTime(PKI_TIME)
  const pkis = yield* Effect.forEach(DOMAINS, (domain) =>
    TestPki.make({ domain }).pipe(Effect.provide(EntropyLive.seeded(`fed/pki/${domain}`)))
  )
  const people: Array<Person> = []
  for (const pki of pkis)
    for (let k = 0; k < PER_DOMAIN; k++)
      people.push({
        pki,
        identity: yield* pki
          .identity(`${prefix(pki.domain)}${k}@${pki.domain}`)
          .pipe(Effect.provide(EntropyLive.seeded(`fed/person/${pki.domain}/${k}`)))
      })
  const forged = yield* TestPki.make({ domain: "other.net" }).pipe(Effect.provide(EntropyLive.seeded("fed/forged")))
  const forger = yield* forged
    .identity("mallory@other.net")
    .pipe(Effect.provide(EntropyLive.seeded("fed/forged/mallory")))
  return { pkis, people, forger: { pki: forged, identity: forger } satisfies Person }
})
type World = Effect.Effect.Success<typeof makeWorld>

const parsed = (der: Uint8Array) => {
  const p = parseCertificate(der)
  if (p._tag !== "Parsed") throw new Error("a test root does not parse")
  return p.certificate
}

/**
 * The agent's home IRP as `DomainRootsLive` uses it: the relayed `DomainInfo` of a domain (PROTOCOL.md
 * §22.4), answered from the real PKIs. Nothing else is asked of it here (lookups and presence go to the
 * MemoryDirectory).
 */
const homeIrp = (self: Handle, pkis: ReadonlyArray<TestPki.TestPki>): IrpConnectionService => {
  const client = {
    handle: self,
    domainInfo: (domain: string) => {
      const pki = pkis.find((p) => p.domain === domain)
      return pki === undefined
        ? Effect.fail(new IrpClientError({ reason: "federation_unavailable", message: `${domain} is unknown.` }))
        : Effect.succeed({
            domain,
            policy: "open" as const,
            root: pki.rootCertificate,
            rootCertificate: parsed(pki.rootCertificate)
          })
    }
  } as unknown as IrpClient
  const connected = { _tag: "Up" as const, client, generation: 1 }
  return {
    handle: self,
    address: makeAddress("::1", 4604),
    state: Effect.succeed(connected),
    connections: Stream.make(connected),
    use: (f) => f(client),
    useNow: (f) => f(client),
    failed: () => Effect.void,
    reconnect: () => Effect.void
  }
}

const run = (world: World, seed: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ seed })
      const directory = yield* MemoryDirectory.make
      const rand = lcg(seed)

      const start = (person: Person, k: number, mobile: MobileTransport.MobileNode) =>
        startAgent({
          identity: person.identity,
          // Our own domain's root only; other domains' come through the federation verifier.
          anchors: [person.pki.rootCertificate],
          directory,
          transport: mobile.transport,
          store: memoryStore({ retry }),
          listen: [makeAddress("::", 4605)],
          presence: (handle) =>
            Layer.scoped(
              Presence,
              directory.presence(
                handle,
                "device-1",
                Effect.sync(() => [makeAddress(mobile.host(), 4605)])
              )
            ),
          verifier: (own) =>
            Effect.map(
              DomainRootsLive.make().pipe(
                Effect.provideService(IrpConnection, homeIrp(person.identity.handle, world.pkis))
              ),
              (roots) => federatedVerifier(own, { ownDomain: person.pki.domain, roots })
            ),
          seed: `fed/${seed}/${k}`,
          options
        })

      const nodes = yield* Effect.forEach(world.people, (person, k) =>
        Effect.gen(function* () {
          const mobile = yield* MobileTransport.make(net, hostOf(k, 0))
          const running = yield* start(person, k, mobile)
          const events = yield* recordEvents(running.agent)
          return { k, mobile, running, events, moves: 0 }
        })
      )
      const { sent, moves, partitions, handleOf } = yield* runSchedule({
        net,
        nodes,
        rand,
        rolls: { send: 42, crossing: 45, move: 49, partition: 55 },
        body: (i, from, to) => `m${i} ${nodes[from]!.running.handle}->${nodes[to]!.running.handle}`
      })
      const undrained = yield* drainOutboxes(nodes)

      // The forger: mallory@other.net, certified by a forged other.net CA, writes to e0@example.org.
      const forgerMobile = yield* MobileTransport.make(net, "2001:db8:ff::1")
      const forger = yield* start(world.forger, AGENTS, forgerMobile)
      const victim = nodes[0]!.running
      yield* forger.agent.send(victim.handle, "I am of other.net")
      for (let step = 0; step < 50; step++) yield* TestClock.adjust("100 millis")
      const forgerOutbox = yield* forger.agent.outbox({})
      const forgerDelivered = (yield* forger.agent.history({})).filter((m) => m.state === "delivered")
      const fromForger = yield* victim.agent.history({ peer: forger.handle })
      yield* forger.stop

      const histories = yield* Effect.forEach(nodes, (n) => n.running.agent.history({ limit: 1000 }))
      const downs = yield* sessionDowns(nodes)
      const pins = yield* Effect.forEach(nodes, (n) =>
        Effect.forEach(
          DOMAINS.filter((d) => d !== handleDomain(n.running.handle)),
          (d) => Effect.map(n.running.store.domainPin(d as DomainName), (pin) => ({ domain: d, pin }))
        )
      )
      const outcome = histories.map((h) => h.map((m) => [m.id, m.peer, m.direction, m.body, m.state].join(" ")))
      return {
        sent,
        histories,
        outcome,
        downs,
        pins,
        undrained,
        forgerOutbox,
        forgerDelivered,
        fromForger,
        moves,
        partitions,
        trace: net.trace(),
        handleOf
      }
    })
  )

const base64 = (der: Uint8Array) => Buffer.from(der).toString("base64")

describe("federated simulation: 3 domains x 5 agents", () => {
  it.effect(
    "moves and partitions across domains: every message delivered exactly once; forged CA refused; same seed, same outcome",
    () =>
      Effect.gen(function* () {
        const world = yield* makeWorld
        const first = yield* run(world, 7)
        const domainOf = (k: number) => handleDomain(first.handleOf(k))
        const across = first.sent.filter((m) => domainOf(m.from) !== domainOf(m.to))
        // The schedule exercised what it claims to.
        expect(first.sent.length).toBeGreaterThan(70)
        expect(across.length).toBeGreaterThan(40)
        expect(first.sent.length - across.length).toBeGreaterThan(15)
        expect(first.moves).toBeGreaterThan(3)
        expect(first.partitions).toBeGreaterThan(3)
        expect(first.undrained).toBe(0)
        // ... and sessions ended every way; every message arrived exactly once, nothing else did.
        expectSessionsEndedEveryWay(first.downs)
        expectEachDeliveredOnce(first)

        // Every agent pinned exactly the real root of each foreign domain it exchanged messages with.
        const rootOf = new Map(world.pkis.map((p) => [p.domain, base64(p.rootCertificate)]))
        let pinned = 0
        first.pins.forEach((pins, k) => {
          for (const { domain, pin } of pins) {
            const talked = first.sent.some(
              (m) => (m.from === k && domainOf(m.to) === domain) || (m.to === k && domainOf(m.from) === domain)
            )
            if (talked) {
              expect(pin?.root, `${first.handleOf(k)}'s pin of ${domain}`).toBe(rootOf.get(domain))
              expect(pin?.pendingChange ?? null).toBeNull()
              pinned++
            }
          }
        })
        expect(pinned).toBeGreaterThan(10)

        // The forged other.net CA: refused by e0@example.org, nothing stored there, still in the outbox.
        expect(first.fromForger).toEqual([])
        expect(first.forgerDelivered).toEqual([])
        expect(first.forgerOutbox).toHaveLength(1)
        expect(first.forgerOutbox[0]!.lastError).toMatch(/unknown_ca .*which is neither a configured trust anchor/)

        const again = yield* run(world, 7)
        expect(again.outcome).toEqual(first.outcome)
        expect(again.downs).toEqual(first.downs)
        expect(again.trace).toEqual(first.trace)
      }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.None))),
    120_000
  )
})
