/**
 * IrpPresence and IrpDirectory against a real IRP server in-process on 127.0.0.1 (SQLite registry):
 * registration, renewal, deregistration, lookups and their refusals, watches, revocations, and the
 * reconnect after the server restarts.
 */
import { expect, it } from "@effect/vitest"
import { Context, Effect, ExecutionStrategy, Exit, Layer, Logger, LogLevel, Queue, Scope, Stream } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { type Address, formatAddress, Handle, makeAddress } from "../../../src/domain/brands.js"
import { certificateIdentity } from "../../../src/domain/cert/identity.js"
import { AgentListeners } from "../../../src/layers/agent/core/Listeners.js"
import * as IrpConnection from "../../../src/layers/agent/irp/IrpConnection.js"
import * as IrpDirectory from "../../../src/layers/agent/irp/IrpDirectory.js"
import * as IrpPresence from "../../../src/layers/agent/irp/IrpPresence.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import * as CertificateAuthorityLive from "../../../src/layers/ca/CertificateAuthority.js"
import { CertificateAuthority } from "../../../src/layers/ca/CertificateAuthority.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import * as IrpClientLive from "../../../src/layers/irp/client/IrpClientLive.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as IrpServerLive from "../../../src/layers/irp/server/IrpServerLive.js"
import * as SqliteLive from "../../../src/layers/sql/SqliteLive.js"
import { Directory, type DirectoryService } from "../../../src/services/Directory.js"
import { IrpClients } from "../../../src/services/IrpClient.js"
import { IrpRegistry, type IrpRegistryService } from "../../../src/services/IrpRegistry.js"
import { Presence, type PresenceService } from "../../../src/services/Presence.js"
import {
  baseLayer,
  buildRegistry,
  type Enrolled,
  enrol,
  generousLimits,
  makeDomain,
  removeTempDirs,
  tempDir
} from "../../irp/protocol/support.js"
import { eventually } from "../core/helpers.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

/** Servers and clients check chains against the domain's root (built when used: `domain` is made in `beforeAll`). */
const env = Layer.mergeAll(
  baseLayer,
  Logger.minimumLogLevel(LogLevel.Error),
  Layer.suspend(() => Layer.orDie(CertVerifierLive.layer({ anchors: [domain.rootCertificate] })))
)

/** A registry that accepts leases from 1 s (the renewal test uses a 2 s one). */
const registry = buildRegistry(
  SqlRegistry.layerWith({ policy: { minTtlSeconds: 1 } }).pipe(
    Layer.provide(SqliteLive.layer(`${tempDir()}/irp.sqlite`))
  )
)

/** An IRP server on 127.0.0.1:`port` until `scope` closes. */
const serve = (reg: IrpRegistryService, scope: Scope.Scope, port = 0) =>
  Effect.gen(function* () {
    const ca = yield* CertificateAuthorityLive.make(domain)
    const server = yield* IrpServerLive.make({
      domain,
      listen: [makeAddress("127.0.0.1", port)],
      policy: { rateLimits: generousLimits }
    }).pipe(
      Effect.provideService(IrpRegistry, reg),
      Effect.provideService(CertificateAuthority, ca),
      Scope.extend(scope)
    )
    return { server, registry: reg, address: server.addresses[0]!, domain }
  })

const connection = (address: Address, who: Enrolled) =>
  IrpConnection.layer({
    address,
    serverName: domain.config.serverName,
    identity: who.identity,
    handle: who.handle,
    reconnectBase: "50 millis",
    reconnectMax: "200 millis"
  }).pipe(Layer.provide(IrpClientLive.layer))

/** Builds `layer` in a scope of its own (closed by `stop`, or with the test's scope). */
const build = <A, E>(layer: Layer.Layer<A, E, never>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const context = yield* Layer.buildWithScope(layer, scope)
    return { context, stop: Scope.close(scope, Exit.void) }
  })

const presenceOf = (
  address: Address,
  who: Enrolled,
  listen: Address,
  options: Partial<IrpPresence.IrpPresenceOptions> = {}
) =>
  Effect.map(
    build(
      IrpPresence.layer({ deviceId: "laptop", ...options }).pipe(
        Layer.provideMerge(connection(address, who)),
        Layer.provide(Layer.succeed(AgentListeners, { listeners: [], addresses: [listen] })),
        Layer.provide(env)
      )
    ),
    ({ context, stop }) => ({ presence: Context.get(context, Presence) as PresenceService, stop })
  )

const directoryOf = (address: Address, who: Enrolled) => {
  const notes = IrpDirectory.makeRevocationNotes()
  return Effect.map(
    build(
      IrpDirectory.layer.pipe(
        Layer.provide(connection(address, who)),
        Layer.provide(IrpDirectory.revocationsLayer(notes)),
        Layer.provide(env)
      )
    ),
    ({ context, stop }) => ({ directory: Context.get(context, Directory) as DirectoryService, notes, stop })
  )
}

const world = Effect.gen(function* () {
  const reg = yield* registry
  const running = yield* serve(reg, yield* Effect.scope)
  const alice = yield* enrol(running, `alice${Math.floor(Math.random() * 1e9)}`)
  const bob = yield* enrol(running, `bob${Math.floor(Math.random() * 1e9)}`)
  return { reg, running, alice, bob }
})

const listenA = makeAddress("127.0.0.1", 45001)

/**
 * The next handle the watch reports. The watch may not be acknowledged yet when the test changes a
 * binding, so the binding is registered again every 200 ms until a change arrives.
 */
const nextChange = (changes: Queue.Dequeue<Handle>, presence: PresenceService) =>
  Effect.raceFirst(Queue.take(changes), Effect.forever(Effect.zipRight(Effect.sleep("200 millis"), presence.refresh)))

describe("IrpPresence and IrpDirectory over a real IRP server", () => {
  it.live("IrpClients.connect: the client lives in its caller's scope, not the layer builder's", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        // The service is built in this (outer) scope; the client is made and closed in an inner one.
        const clients = Context.get(yield* Layer.build(IrpClientLive.layer), IrpClients)
        const inner = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
        const client = yield* clients
          .connect({
            address: w.running.address,
            domain: "example.org",
            identity: w.alice.identity
          })
          .pipe(Scope.extend(inner))
        yield* client.ping
        yield* Scope.close(inner, Exit.void)
        const after = yield* Effect.flip(client.ping)
        expect(after.reason).toBe("Channel")
      })
    ).pipe(Effect.provide(env))
  )

  it.live("Presence registers, renews before the lease ends, and deregisters when it stops; lookups see it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const bob = yield* directoryOf(w.running.address, w.bob)
        const alice = yield* presenceOf(w.running.address, w.alice, listenA, { ttlSeconds: 2, renewAt: 0.25 })

        const location = yield* eventually(
          Effect.map(bob.directory.lookup(w.alice.handle), (l) => (l.addresses.length > 0 ? l : undefined)),
          "alice's binding"
        )
        expect(location.addresses.map(formatAddress)).toEqual(["127.0.0.1:45001"])
        expect(location.fingerprint).toBe(certificateIdentity(w.alice.identity.chain[0]!)!.fingerprint)
        expect((yield* alice.presence.current).map(formatAddress)).toEqual(["127.0.0.1:45001"])

        // Renewal: the stored sequence number moves on while the lease is still running.
        const now = () => Date.now()
        const first = (yield* w.reg.lookup({ handle: w.alice.handle, now: now() }))[0]!
        const renewed = yield* eventually(
          Effect.map(w.reg.lookup({ handle: w.alice.handle, now: now() }), (b) =>
            b[0] !== undefined && b[0].seq > first.seq ? b[0] : undefined
          ),
          "a renewal",
          { tries: 100, every: "50 millis" }
        )
        expect(renewed.deviceId).toBe("laptop")
        expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt)

        yield* alice.stop
        expect(yield* w.reg.lookup({ handle: w.alice.handle, now: now() })).toEqual([])
        expect((yield* bob.directory.lookup(w.alice.handle)).addresses).toEqual([])
      })
    ).pipe(Effect.provide(env))
  )

  it.live("Presence registers the host's addresses for a wildcard listener, and again when they change", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        let hosts = ["2001:db8::5", "fd00::5"]
        const table = () => ({
          lo: [{ address: "::1", family: "IPv6", internal: true }],
          eth0: hosts.map((address) => ({ address, family: "IPv6", internal: false }))
        })
        const alice = yield* presenceOf(w.running.address, w.alice, makeAddress("::", 45002), {
          interfaces: table,
          pollInterval: "50 millis"
        })
        const addressesNow = Effect.map(w.reg.lookup({ handle: w.alice.handle, now: Date.now() }), (b) =>
          b[0]?.addresses.map(formatAddress).join(" ")
        )
        expect(yield* eventually(addressesNow, "the first registration")).toBe("[2001:db8::5]:45002 [fd00::5]:45002")
        hosts = ["2001:db8::77"]
        expect(
          yield* eventually(
            Effect.map(addressesNow, (a) => (a === "[2001:db8::77]:45002" ? a : undefined)),
            "the registration of the new address"
          )
        ).toBe("[2001:db8::77]:45002")
        yield* alice.stop
      })
    ).pipe(Effect.provide(env))
  )

  it.live("lookups refuse unknown, foreign and revoked identities; a watch reports a peer's new binding", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const bob = yield* directoryOf(w.running.address, w.bob)
        const unknown = yield* Effect.flip(bob.directory.lookup(Handle.make("nobody@example.org")))
        expect(unknown.reason).toBe("NotFound")
        const foreign = yield* Effect.flip(bob.directory.lookup(Handle.make("carol@example.net")))
        // Asked of the home IRP (PROTOCOL.md §22.4), never refused by the agent itself: this server does
        // not federate, so it answers not_found (or, once it knows the policy, federation_refused).
        expect(["NotFound", "Refused"]).toContain(foreign.reason)
        expect(foreign.message).not.toMatch(/only reach people of its own domain/)

        const changes = yield* Queue.unbounded<Handle>()
        yield* Effect.forkScoped(
          Stream.runForEach(bob.directory.watch([w.alice.handle]), (h) => Queue.offer(changes, h))
        )
        const alice = yield* presenceOf(w.running.address, w.alice, listenA)
        expect(yield* nextChange(changes, alice.presence)).toBe(w.alice.handle)

        // alice revokes her own certificate: bob's lookups refuse her, and his verifier learns the serial.
        const serial = certificateIdentity(w.alice.identity.chain[0]!)!.serial
        yield* Effect.scoped(
          Effect.flatMap(
            IrpClientLive.connect({
              address: w.running.address,
              domain: "example.org",
              identity: w.alice.identity
            }),
            (client) => client.revoke(serial as never, "keyCompromise")
          )
        ).pipe(Effect.provide(env))
        const revoked = yield* Effect.flip(bob.directory.lookup(w.alice.handle))
        expect(revoked.reason).toBe("Revoked")
        expect(bob.notes.isRevoked(new Uint8Array(), serial)).toBe(true)
        yield* alice.stop
      })
    ).pipe(Effect.provide(env))
  )

  it.live("after the IRP server restarts, Presence registers again and the watch is re-established", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const reg = yield* registry
        const first = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
        const running = yield* serve(reg, first)
        const aliceId = yield* enrol(running, `alice${Math.floor(Math.random() * 1e9)}`)
        const bobId = yield* enrol(running, `bob${Math.floor(Math.random() * 1e9)}`)
        const bob = yield* directoryOf(running.address, bobId)
        const changes = yield* Queue.unbounded<Handle>()
        yield* Effect.forkScoped(
          Stream.runForEach(bob.directory.watch([aliceId.handle]), (h) => Queue.offer(changes, h))
        )
        const alice = yield* presenceOf(running.address, aliceId, listenA)
        expect(yield* nextChange(changes, alice.presence)).toBe(aliceId.handle)
        const before = (yield* reg.lookup({ handle: aliceId.handle, now: Date.now() }))[0]!

        yield* Scope.close(first, Exit.void)
        const second = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
        yield* serve(reg, second, running.address.port)

        const after = yield* eventually(
          Effect.map(reg.lookup({ handle: aliceId.handle, now: Date.now() }), (b) =>
            b[0] !== undefined && b[0].seq > before.seq ? b[0] : undefined
          ),
          "alice registering again"
        )
        expect(after.addresses.map(formatAddress)).toEqual(["127.0.0.1:45001"])
        // bob's watch is back: the resync reports alice at once, and a later change is pushed again.
        expect(yield* Queue.take(changes)).toBe(aliceId.handle)
        yield* Queue.takeAll(changes)
        expect(yield* nextChange(changes, alice.presence)).toBe(aliceId.handle)
        yield* alice.stop
      })
    ).pipe(Effect.provide(env))
  )
})
