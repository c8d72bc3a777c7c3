/**
 * People in different domains (issue 14, section 6): three domains, each with its own `irp init`
 * directory, CA and `irp serve` process, found through SRV records on a loopback dnsmasq, their IRPs
 * authenticated to each other under a test public root (PROTOCOL.md §22.2); agents in real processes.
 *
 * * alice@example.org and carol@other.net exchange messages and a file directly, both ways, each
 *   message stored exactly once across a restart of either agent;
 * * a forged domain (a third CA claiming other.net) is refused by alice's agent;
 * * a domain whose policy is closed (third.org) is refused with its sentence and exit 1.
 */
import { randomBytes } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Transfer } from "../../../src/domain/agent/transfers.js"
import type { Address, Handle } from "../../../src/domain/brands.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import { pemDecode } from "../../../src/domain/pem.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import { e2eCodec, make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { cryptoSuite } from "../../../src/services/Crypto.js"
import {
  type AgentProc,
  call,
  type Domain,
  eventually,
  history,
  incomingCounts,
  sha256File,
  startDomain,
  untilStates
} from "../../agent/processes/support.js"
import { runCli } from "../../support/cli.js"
import { DNSMASQ, requireDnsmasqTest } from "../../support/dnsmasq.js"
import { type FederationWorld, startFederation } from "./world.js"

requireDnsmasqTest()

let world: FederationWorld
let alice: AgentProc
let carol: AgentProc
let dave: AgentProc
const agents = () => [alice, carol, dave].filter((a) => a !== undefined)

describe.skipIf(DNSMASQ === undefined)("federation: three domains in real processes", () => {
  beforeAll(async () => {
    world = await startFederation([
      { name: "example.org", federation: { mode: "open" } },
      { name: "other.net", federation: { mode: "allow", domains: ["example.org"] } },
      { name: "third.org", federation: { mode: "closed" } }
    ])
    const [aliceHome, carolHome, daveHome] = await Promise.all([
      world.domain("example.org").enrol("alice"),
      world.domain("other.net").enrol("carol"),
      world.domain("third.org").enrol("dave")
    ])
    ;[alice, carol, dave] = await Promise.all([
      world.domain("example.org").startAgent("alice", aliceHome!, ["--accept-files", "anyone:64MiB"]),
      world.domain("other.net").startAgent("carol", carolHome!, ["--accept-files", "anyone:64MiB"]),
      world.domain("third.org").startAgent("dave", daveHome!)
    ])
  }, 180_000)

  afterAll(async () => {
    for (const a of agents()) await a.stop()
    await world?.cleanup()
  }, 60_000)

  it("alice@example.org and carol@other.net: messages both ways, each once across a restart of either agent", async () => {
    // The people command, as a user types it: the handle of another domain is looked up through alice's IRP.
    const looked = await runCli(["lookup", "--home", alice.home, carol.handle])
    expect(looked.stderr).toBe("")
    expect(looked.code).toBe(0)
    expect(looked.stdout).toContain(carol.handle)

    const first = await call(alice, "send", { peer: carol.handle, body: "Hello Carol, from example.org" })
    await untilStates(alice, carol.handle, [first.id], ["delivered", "read"], agents())
    const reply = await call(carol, "send", { peer: alice.handle, body: "Hello Alice, from other.net" })
    await untilStates(carol, alice.handle, [reply.id], ["delivered", "read"], agents())

    // Carol's agent stops; alice writes three more; carol comes back and gets each once.
    expect(await carol.stop()).toBe(0)
    const queued = []
    for (const n of [1, 2, 3])
      queued.push((await call(alice, "send", { peer: carol.handle, body: `while away ${n}` })).id)
    carol = await world.domain("other.net").startAgent("carol", carol.home, ["--accept-files", "anyone:64MiB"])
    await untilStates(alice, carol.handle, queued, ["delivered", "read"], agents())

    // And the other way round: alice's agent restarts while carol writes.
    expect(await alice.stop()).toBe(0)
    const back = (await call(carol, "send", { peer: alice.handle, body: "are you there?" })).id
    alice = await world.domain("example.org").startAgent("alice", alice.home, ["--accept-files", "anyone:64MiB"])
    await untilStates(carol, alice.handle, [back], ["delivered", "read"], agents())

    const atCarol = await incomingCounts(carol, alice.handle, [first.id, ...queued])
    expect(atCarol).toEqual([1, 1, 1, 1])
    const atAlice = await incomingCounts(alice, carol.handle, [reply.id, back])
    expect(atAlice).toEqual([1, 1])
    const bodies = (await history(carol, alice.handle)).filter((m) => m.direction === "in").map((m) => m.body)
    expect(bodies).toEqual(["Hello Carol, from example.org", "while away 1", "while away 2", "while away 3"])
  }, 240_000)

  it("a file each way between the two domains, verified and placed", async () => {
    const received = async (agent: AgentProc, id: string) =>
      eventually(
        `${agent.name} to keep file ${id}`,
        async () => {
          const t = (await call(agent, "transfers", {})).find(
            (x): x is Extract<Transfer, { direction: "in" }> => x.direction === "in" && x.id === id
          )
          if (t !== undefined && (t.state === "failed" || t.state === "cancelled"))
            throw new Error(`the transfer ended ${t.state}: ${t.detail}`)
          return t?.state === "done" ? t : undefined
        },
        { agents: agents(), timeoutMs: 90_000 }
      )
    for (const [from, to] of [
      [alice, carol],
      [carol, alice]
    ] as const) {
      const file = join(world.openssl.dir, `from-${from.name}.bin`)
      writeFileSync(file, randomBytes(3 * 1024 * 1024 + 17))
      const offered = await call(from, "sendFile", { peer: to.handle, path: file })
      const done = await received(to, offered.id)
      expect(sha256File(done.finalPath!)).toBe(sha256File(file))
    }
  }, 240_000)

  it("a forged other.net (a third CA claiming carol@other.net) is refused by alice's agent", async () => {
    // Mallory runs her own `irp init --domain other.net` and enrols "carol" there: a valid chain under
    // the wrong root. Alice's agent verifies other.net's people only under the root it pinned.
    const forged: Domain = await startDomain({ domain: "other.net" })
    try {
      const home = await forged.enrol("carol", "forged-carol")
      const anchors = [
        ...pemDecode(readFileSync(join(home, "ca.pem"), "utf8"), "CERTIFICATE"),
        ...pemDecode(readFileSync(join(alice.home, "ca.pem"), "utf8"), "CERTIFICATE")
      ]
      const status = await call(alice, "status", {})
      const listening = status.listening[0]!
      const outcome = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const pkcs8 = pemDecode(readFileSync(join(home, "key.pem"), "utf8"), "PRIVATE KEY")[0]!
            const chain = pemDecode(readFileSync(join(home, "cert.pem"), "utf8"), "CERTIFICATE")
            const identity = yield* Either.match(makeLocalIdentity(yield* cryptoSuite, pkcs8, chain), {
              onLeft: (m) => Effect.die(new Error(m)),
              onRight: Effect.succeed
            })
            const channels = yield* makeChannels({ codec: e2eCodec, identity })
            const address = { host: listening.host, port: listening.port } as Address
            const chan = yield* channels.dial(address, { _tag: "Handle", handle: alice.handle })
            // The responder judges our chain after our flight: its refusal arrives on the first read.
            yield* chan.send({ _tag: "e2e.Ping", nonce: "forged" })
            return yield* chan.receive
          })
        ).pipe(
          Effect.either,
          Effect.timeout("40 seconds"),
          Effect.provide(
            Layer.mergeAll(
              CryptoLive.layerFor("node"),
              EntropyLive.layer,
              Layer.orDie(CertVerifierLive.layer({ anchors })),
              TcpTransport.layer
            )
          )
        )
      )
      expect(Either.isLeft(outcome)).toBe(true)
      if (Either.isLeft(outcome))
        expect(outcome.left.alert ?? outcome.left.reason).toMatch(/unknown_ca|bad_certificate|PeerAlert/)
      // Nothing from the forger reached alice's store.
      expect((await history(alice, "carol@other.net" as Handle)).filter((m) => m.body === "forged")).toEqual([])
    } finally {
      await forged.cleanup()
    }
  }, 120_000)

  it("a closed domain is refused with its sentence: `send` exits 1", async () => {
    const r = await runCli(["send", "--home", alice.home, dave.handle, "hello dave"])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/third\.org does not accept federation/)
    // And from the closed domain outwards: third.org's IRP does not relay.
    const out = await runCli(["send", "--home", dave.home, alice.handle, "hello alice"])
    expect(out.code).toBe(1)
    expect(out.stderr).toMatch(/third\.org does not federate/)
  }, 60_000)
})
