/**
 * The IRP client's multiplexer and failure modes, and the server's connection bound and shutdown:
 * pipelined requests matched by id, a CRL in several parts, timeouts, a server that goes away,
 * unreachable addresses, an identity whose key does not fit.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { makeAddress } from "../../../src/domain/brands.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import type { IrpServerInbound, IrpServerMessage } from "../../../src/domain/irp/messages.js"
import { irpServerCodec } from "../../../src/domain/irp/xml.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import { CertVerifier } from "../../../src/services/CertVerifier.js"
import { cryptoSuite } from "../../../src/services/Crypto.js"
import type { SecureChannel } from "../../../src/services/SecureChannel.js"
import { Transport } from "../../../src/services/Transport.js"
import {
  buildRegistry,
  connect,
  enrol,
  handle,
  makeDomain,
  quietLayer,
  type Running,
  reasonOf,
  removeTempDirs,
  sqliteRegistry,
  sqliteServer,
  startServer
} from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

const env = quietLayer
const server = (policy?: Parameters<typeof startServer>[2]) => sqliteServer(domain, policy)

/**
 * A scripted IRP server: it completes the handshake with the domain's server certificate and hands each
 * accepted channel to `script`, which answers (or not) as the test wants.
 */
const scriptedServer = (
  script: (channel: SecureChannel<IrpServerInbound, IrpServerMessage>) => Effect.Effect<void, unknown>
) =>
  Effect.gen(function* () {
    const crypto = yield* cryptoSuite
    const identity = Either.getOrThrow(makeLocalIdentity(crypto, domain.serverKey, domain.serverChain))
    const verifier = yield* CertVerifierLive.make({ anchors: [domain.rootCertificate] })
    const channels = yield* makeChannels({ codec: irpServerCodec, identity, allowAnonymousPeer: true }).pipe(
      Effect.provideService(CertVerifier, verifier)
    )
    const listener = yield* (yield* Transport).listen(makeAddress("127.0.0.1", 0))
    yield* Effect.scoped(Effect.flatMap(listener.accept, (conn) => Effect.flatMap(channels.accept(conn), script))).pipe(
      Effect.ignore,
      Effect.forever,
      Effect.forkScoped
    )
    return { address: listener.address, domain } as unknown as Running
  })

/** The next request the scripted server receives. */
const nextRequest = (channel: SecureChannel<IrpServerInbound, IrpServerMessage>) =>
  Effect.flatMap(channel.receive, (inbound) =>
    inbound._tag === "Message" && inbound.message._tag !== "irp.InvalidRequest"
      ? Effect.succeed(inbound.message)
      : Effect.die(`unexpected ${JSON.stringify(inbound)}`)
  )

describe("IRP client", () => {
  it.live("pipelined requests over one connection are each matched with their own answer", () =>
    Effect.gen(function* () {
      const running = yield* server()
      const alice = yield* enrol(running, "alice")
      const client = yield* connect(running, alice.identity)
      const handles = Array.from({ length: 40 }, (_, i) => handle(`user${i}`))
      const results = yield* Effect.forEach(handles, (h) => client.lookup(h), { concurrency: "unbounded" })
      expect(results.map((r) => r.handle)).toEqual(handles)
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(["unknown"]))
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("a CRL sent in parts is put back together; parts out of order are a protocol error", () =>
    Effect.gen(function* () {
      const der = Uint8Array.from({ length: 100 }, (_, i) => i)
      let misbehave = false
      const fake = yield* scriptedServer((channel) =>
        Effect.gen(function* () {
          while (true) {
            const request = yield* nextRequest(channel)
            if (request._tag === "irp.Ping") yield* channel.send({ _tag: "irp.Ok", id: request.id })
            if (request._tag !== "irp.Crl") continue
            const parts = [der.subarray(0, 40), der.subarray(40, 80), der.subarray(80)]
            const order = misbehave ? [1, 0, 2] : [0, 1, 2]
            for (const i of order)
              yield* channel.send({ _tag: "irp.CrlResult", id: request.id, part: i + 1, parts: 3, der: parts[i]! })
          }
        })
      )
      const client = yield* connect(fake, null)
      expect(yield* client.crl).toEqual(der)
      misbehave = true
      const broken = yield* Effect.flip(client.crl)
      expect([broken.reason, broken.message]).toEqual(["Protocol", expect.stringMatching(/report this/)])
      // A protocol error ends the connection for every later request too.
      expect(yield* reasonOf(client.ping)).toBe("Protocol")
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live(
    "an answer of another kind, for another handle, or a refusal fails its request, which gets nothing else",
    () =>
      Effect.gen(function* () {
        const asked = handle("asked")
        let turn = 0
        const fake = yield* scriptedServer((channel) =>
          Effect.gen(function* () {
            while (true) {
              const request = yield* nextRequest(channel)
              if (request._tag === "irp.Ping") yield* channel.send({ _tag: "irp.Ok", id: request.id })
              if (request._tag !== "irp.Lookup") continue
              const id = request.id
              const result = { _tag: "irp.LookupResult", id, status: "unknown", chain: [], bindings: [] } as const
              const answers: ReadonlyArray<IrpServerMessage> = [
                { ...result, handle: handle("other") },
                { _tag: "irp.Ok", id },
                { _tag: "irp.Error", id, code: "rate_limited", message: "slow down", retryAfterMs: 500 },
                { ...result, handle: request.handle }
              ]
              yield* channel.send(answers[turn++ % answers.length]!)
            }
          })
        )
        const client = yield* connect(fake, null)
        const other = yield* Effect.flip(client.lookup(asked))
        expect([other.reason, other.message]).toEqual(["Protocol", expect.stringMatching(/answered for other/)])
        const kind = yield* Effect.flip(client.lookup(asked))
        expect([kind.reason, kind.message]).toEqual(["Protocol", expect.stringMatching(/Ok in answer to Lookup/)])
        const refusal = yield* Effect.flip(client.lookup(asked))
        expect([refusal.reason, refusal.retryAfterMs]).toEqual(["rate_limited", 500])
        // None of these ends the connection: the next answer is taken as it is.
        expect(yield* client.lookup(asked)).toEqual({ handle: asked, status: "unknown", chain: [], bindings: [] })
      }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("a request without an answer times out; the connection keeps serving others", () =>
    Effect.gen(function* () {
      const fake = yield* scriptedServer((channel) =>
        Effect.gen(function* () {
          while (true) {
            const request = yield* nextRequest(channel)
            // Lookups are never answered; pings are.
            if (request._tag === "irp.Ping") yield* channel.send({ _tag: "irp.Ok", id: request.id })
          }
        })
      )
      const client = yield* connect(fake, null, { requestTimeout: "200 millis" })
      const slow = yield* Effect.flip(client.lookup(handle("bob")))
      expect([slow.reason, slow.message]).toEqual(["Timeout", expect.stringMatching(/did not answer Lookup/)])
      yield* client.ping
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("a timeout fires after requestTimeout and at most one sweep period later; a late answer is dropped", () =>
    Effect.gen(function* () {
      const fake = yield* scriptedServer((channel) =>
        Effect.gen(function* () {
          while (true) {
            const request = yield* nextRequest(channel)
            if (request._tag === "irp.Ping") yield* channel.send({ _tag: "irp.Ok", id: request.id })
            // Lookups are answered, but only after the client gave up on them.
            if (request._tag === "irp.Lookup")
              yield* channel
                .send({
                  _tag: "irp.LookupResult",
                  id: request.id,
                  handle: request.handle,
                  status: "unknown",
                  chain: [],
                  bindings: []
                })
                .pipe(Effect.delay("600 millis"), Effect.forkScoped)
          }
        }).pipe(Effect.scoped)
      )
      const client = yield* connect(fake, null, { requestTimeout: "300 millis" })
      const started = Date.now()
      const slow = yield* Effect.flip(client.lookup(handle("bob")))
      const elapsed = Date.now() - started
      expect(slow.reason).toBe("Timeout")
      // 300 ms, plus at most one sweep (75 ms), plus scheduling slack on a busy machine.
      expect(elapsed).toBeGreaterThanOrEqual(300)
      expect(elapsed).toBeLessThan(300 + 75 + 500)
      yield* Effect.sleep("500 millis")
      // The late answer arrived meanwhile and was dropped: the connection still serves requests.
      yield* client.ping
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("when the server goes away, waiting requests and watch streams fail, and it is unreachable", () =>
    Effect.gen(function* () {
      const serverScope = yield* Scope.make()
      const registry = yield* buildRegistry(sqliteRegistry())
      const running = yield* Scope.extend(startServer(domain, registry), serverScope)
      const alice = yield* enrol(running, "alice")
      const client = yield* connect(running, alice.identity)
      const changes = yield* client.watch([handle("bob")])
      const watching = yield* Effect.fork(Stream.runDrain(changes))
      yield* Scope.close(serverScope, Exit.void)
      const ended = yield* Fiber.await(watching)
      expect(Exit.isFailure(ended)).toBe(true)
      expect(yield* reasonOf(client.ping)).toBe("Channel")
      expect(yield* reasonOf(connect(running, null))).toBe("Unreachable")
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  // PROTOCOL.md §17.1.7 (issue 10 §4): the server accepts at once and closes a connection past the bound,
  // rather than leaving it in a backlog where no handshake deadline runs.
  it.live("past maxConnections the server closes new connections at once until a connection ends", () =>
    Effect.gen(function* () {
      const running = yield* server({ maxConnections: 1 })
      const firstScope = yield* Scope.make()
      const first = yield* Scope.extend(connect(running, null), firstScope)
      yield* first.ping
      expect(yield* reasonOf(connect(running, null))).toBe("Channel")
      yield* Scope.close(firstScope, Exit.void)
      yield* running.server.connections.pipe(
        Effect.repeat({
          until: (n) => n === 0,
          schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds"))
        })
      )
      const second = yield* connect(running, null)
      yield* second.ping
      expect(yield* running.server.connections).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("past maxConnectionsPerSource the server drops new connections from that source at once", () =>
    Effect.gen(function* () {
      const running = yield* server({ maxConnectionsPerSource: 2 })
      const a = yield* connect(running, null)
      const b = yield* connect(running, null)
      expect(yield* reasonOf(connect(running, null))).toBe("Channel")
      yield* a.ping
      yield* b.close
      // Wait (bounded) until the server has seen b go.
      yield* running.server.connections.pipe(
        Effect.repeat({
          until: (n) => n === 1,
          schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds"))
        })
      )
      yield* Effect.scoped(Effect.flatMap(connect(running, null), (c) => c.ping))
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("a request the wire cannot carry is refused unsent, and the connection goes on", () =>
    Effect.gen(function* () {
      const running = yield* server()
      const client = yield* connect(running, null)
      const huge = yield* Effect.flip(
        client.enroll({ handle: handle("alice"), token: `sxe1-${"A".repeat(43)}`, csr: new Uint8Array(70_000) })
      )
      expect([huge.reason, huge.message]).toEqual(["bad_request", expect.stringMatching(/not sent/)])
      const control = yield* Effect.flip(
        client.enroll({ handle: handle("alice"), token: "sxe1-\u0007", csr: new Uint8Array(10) })
      )
      expect(control.reason).toBe("bad_request")
      // A pasted token with surrounding blanks is trimmed, then judged by the server.
      const pasted = yield* Effect.flip(
        client.enroll({ handle: handle("alice"), token: ` sxe1-${"A".repeat(43)}\n`, csr: new Uint8Array(10) })
      )
      expect(pasted.reason).toBe("csr_invalid")
      yield* client.ping
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("an identity whose key does not fit its certificate is refused before dialling", () =>
    Effect.gen(function* () {
      const running = yield* server()
      const alice = yield* enrol(running, "alice")
      const bob = yield* enrol(running, "bob")
      const mixed = { pkcs8: bob.identity.pkcs8, chain: alice.identity.chain }
      expect(yield* reasonOf(connect(running, mixed))).toBe("Identity")
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})
