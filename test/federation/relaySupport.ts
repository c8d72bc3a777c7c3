/**
 * What the federation relay tests share (PROTOCOL.md §22): a test public CA (standing in for the Web
 * PKI, §22.2.4) that issues `irp.<domain>` server certificates, a small test-double foreign IRP on
 * loopback (a real secure channel that presents its public chain when asked `<Trust>public</Trust>`
 * and answers DomainInfo / Lookup / Status / Watch documents, counting connections and requests), a
 * DomainResolver stub pointing domains at loopback ports, and the Federation under test.
 */
import { randomBytes } from "node:crypto"
import { Clock, Deferred, Effect, Either, Exit, Layer, PubSub, Scope } from "effect"
import { type Address, type Handle, makeAddress } from "../../src/domain/brands.js"
import type { VerifiedCertificate } from "../../src/domain/cert/verify.js"
import { type Discovery, discoveryError } from "../../src/domain/federation/discovery.js"
import type { FederationPolicy } from "../../src/domain/federation/policy.js"
import { makeLocalIdentity } from "../../src/domain/handshake/identity.js"
import type { Changed, IrpRequest, IrpServerMessage } from "../../src/domain/irp/messages.js"
import { irpServerCodec } from "../../src/domain/irp/xml.js"
import { SERIAL_BYTES, serialFromEntropy } from "../../src/domain/pki/profile.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import { createIssuingCa, createRootCa, createServerCertificate, loadIssuer } from "../../src/layers/ca/certificates.js"
import { generateKeyPair } from "../../src/layers/ca/keys.js"
import { make as makeChannels } from "../../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../src/layers/EntropyLive.js"
import * as FederationLive from "../../src/layers/federation/FederationLive.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { CertVerifier } from "../../src/services/CertVerifier.js"
import { cryptoSuite } from "../../src/services/Crypto.js"
import { DomainResolver } from "../../src/services/DomainResolver.js"
import type { SecureChannel } from "../../src/services/SecureChannel.js"
import { Transport } from "../../src/services/Transport.js"
import type * as TestPki from "../../src/testing/pki.js"

export const OURS = "example.org"
export const open: FederationPolicy = { mode: "open", domains: [] }

export const baseLayer = Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)

export interface Credentials {
  readonly pkcs8: Uint8Array
  readonly chain: ReadonlyArray<Uint8Array>
}

/** A public CA for tests (the Web PKI of §22.2.4): a root and an issuing CA allowed these server names. */
export const makePublicCa = (names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const now = new Date(yield* Clock.currentTimeMillis)
    const serial = () => serialFromEntropy(new Uint8Array(randomBytes(SERIAL_BYTES)))
    const rootKey = yield* generateKeyPair()
    const root = yield* createRootCa({
      domain: "public-ca.test",
      key: rootKey,
      now,
      serial: serial(),
      serverNames: names
    })
    const rootIssuer = yield* loadIssuer({ certificateDer: root, pkcs8: rootKey.pkcs8, domain: "public-ca.test" })
    const issuingKey = yield* generateKeyPair()
    const issuing = yield* createIssuingCa({ key: issuingKey, issuer: rootIssuer, now, serial: serial() })
    const issuer = yield* loadIssuer({ certificateDer: issuing, pkcs8: issuingKey.pkcs8, domain: "public-ca.test" })
    /** A public chain for these DNS names (default `irp.<domain>`). */
    const server = (name: string): Effect.Effect<Credentials, unknown> =>
      Effect.gen(function* () {
        const key = yield* generateKeyPair()
        const issued = yield* createServerCertificate({
          spki: key.spki,
          serverNames: [name],
          issuer,
          now,
          serial: serial(),
          validityDays: 30
        })
        return { pkcs8: key.pkcs8, chain: issued.chain }
      })
    return { root, server }
  })
export type PublicCa = Effect.Effect.Success<ReturnType<typeof makePublicCa>>

/** How the double answers one request: a message, or `undefined` to never answer it. */
export type Answerer = (request: IrpRequest) => Effect.Effect<IrpServerMessage | undefined>

export interface FakeIrpOptions {
  /** The domain it says it serves in `DomainInfoResult` (default: the PKI's). */
  readonly claims?: string | undefined
  /** Its domain PKI (its root, its users). */
  readonly pki: TestPki.TestPki
  /** The chain it presents when asked for its public one; `undefined`: it has none (only its domain chain). */
  readonly publicChain: Credentials | undefined
  /** Users it knows: handle → chain. */
  readonly users?: ReadonlyMap<string, ReadonlyArray<Uint8Array>> | undefined
  /** Replaces the default answer of some requests (return `null` for the default). */
  readonly answer?: ((request: IrpRequest) => Effect.Effect<IrpServerMessage | undefined | null>) | undefined
  /** Anchors it verifies callers under (the public CA's root): callers present server certificates (§22.2.5). */
  readonly callerAnchors: ReadonlyArray<Uint8Array>
}

export interface FakeIrp {
  readonly address: Address
  /** TCP connections accepted. */
  readonly accepts: () => number
  /** Requests received, in order. */
  readonly requests: Array<IrpRequest>
  /** The DNS names of the callers' verified certificates. */
  readonly callers: Array<ReadonlyArray<string>>
  /** Pushes `<Changed>` on every open connection. */
  readonly push: (change: Omit<Changed, "_tag">) => Effect.Effect<void>
  /** Closes every open connection (`<Close/>`): the sessions are lost. */
  readonly closeAll: Effect.Effect<void>
  /** Fires each time a request arrives. */
  readonly arrivals: PubSub.PubSub<IrpRequest>
}

/** A test-double foreign IRP on 127.0.0.1, alive for the scope. */
export const startFakeIrp = (options: FakeIrpOptions) =>
  Effect.gen(function* () {
    const crypto = yield* cryptoSuite
    const identity = (c: Credentials) => Either.getOrThrow(makeLocalIdentity(crypto, c.pkcs8, c.chain))
    const domainChain = yield* options.pki.server()
    const live = yield* CertVerifierLive.make({ anchors: options.callerAnchors })
    const callers: Array<ReadonlyArray<string>> = []
    // A federation caller presents its public chain (EKU serverAuth, §22.2.5): verified as such.
    const verifier = {
      verify: (request: Parameters<typeof live.verify>[0]) =>
        Effect.tap(live.verify({ ...request, purpose: "server-auth" }), (v: VerifiedCertificate) =>
          Effect.sync(() => callers.push(v.dnsNames))
        )
    }
    const channels = yield* makeChannels({
      codec: irpServerCodec,
      identity: identity(domainChain),
      publicIdentity: options.publicChain === undefined ? undefined : identity(options.publicChain)
    }).pipe(Effect.provideService(CertVerifier, verifier))
    const transport = yield* Transport
    const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
    const open = new Set<SecureChannel<unknown, IrpServerMessage>>()
    const requests: Array<IrpRequest> = []
    const arrivals = yield* PubSub.unbounded<IrpRequest>()
    let accepts = 0
    const domain = options.claims ?? options.pki.domain

    const defaultAnswer = (r: IrpRequest): IrpServerMessage | undefined => {
      switch (r._tag) {
        case "irp.DomainInfo":
          return { _tag: "irp.DomainInfoResult", id: r.id, domain, policy: "open", root: options.pki.rootCertificate }
        case "irp.Lookup": {
          const chain = options.users?.get(r.handle)
          return chain === undefined
            ? { _tag: "irp.Error", id: r.id, code: "not_found", message: `${r.handle} is not known here` }
            : { _tag: "irp.LookupResult", id: r.id, handle: r.handle, status: "good", chain, bindings: [] }
        }
        case "irp.Status":
          return { _tag: "irp.StatusResult", id: r.id, serial: r.serial, status: "good" }
        case "irp.Watch":
        case "irp.Unwatch":
        case "irp.Ping":
          return { _tag: "irp.Ok", id: r.id }
        default:
          return { _tag: "irp.Error", id: r.id, code: "forbidden", message: "not for federation callers" }
      }
    }

    const serve = (conn: Parameters<typeof channels.accept>[0]) =>
      Effect.scoped(
        Effect.gen(function* () {
          const channel = yield* channels.accept(conn)
          open.add(channel as never)
          yield* Effect.addFinalizer(() => Effect.sync(() => open.delete(channel as never)))
          for (;;) {
            const inbound = yield* channel.receive
            if (inbound._tag !== "Message") return
            const request = inbound.message
            if (request._tag === "irp.InvalidRequest") continue
            requests.push(request)
            yield* PubSub.publish(arrivals, request)
            yield* Effect.gen(function* () {
              const custom = options.answer === undefined ? null : yield* options.answer(request)
              const answer = custom === null ? defaultAnswer(request) : custom
              if (answer !== undefined) yield* channel.send(answer)
            }).pipe(Effect.ignore, Effect.forkScoped)
          }
        })
      )
    yield* Effect.gen(function* () {
      const scope = yield* Scope.make()
      const conn = yield* Scope.extend(listener.accept, scope)
      accepts++
      yield* serve(conn).pipe(Effect.ignore, Effect.ensuring(Scope.close(scope, Exit.void)), Effect.forkScoped)
    }).pipe(Effect.forever, Effect.ignore, Effect.forkScoped)

    const fake: FakeIrp = {
      address: listener.address,
      accepts: () => accepts,
      requests,
      callers,
      push: (change) =>
        Effect.forEach(open, (c) => Effect.ignore(c.send({ _tag: "irp.Changed", ...change })), { discard: true }),
      closeAll: Effect.suspend(() => Effect.forEach([...open], (c) => c.close("test"), { discard: true })),
      arrivals
    }
    return fake
  })

/** Where the resolver stub sends each domain (mutable: tests re-point domains), and how often it was asked. */
export interface Directory {
  readonly at: Map<string, Address>
  readonly asked: () => number
}

export const directory = (): Directory & { readonly layer: Layer.Layer<DomainResolver> } => {
  const at = new Map<string, Address>()
  let asked = 0
  const layer = Layer.succeed(DomainResolver, {
    discover: (domain: string) =>
      Effect.suspend(() => {
        asked++
        const address = at.get(domain)
        if (address === undefined) return Effect.fail(discoveryError("NotFound", domain))
        const discovery: Discovery = {
          domain,
          source: "fallback",
          ttl: 60,
          targets: [
            { target: `irp.${domain}`, port: address.port, priority: 0, weight: 0, addresses: [address.host], ttl: 60 }
          ]
        }
        return Effect.succeed({ ...discovery, cached: false })
      })
  })
  return { at, asked: () => asked, layer }
}

/** A port on loopback where nothing listens (bound, then closed). */
export const deadAddress = Effect.scoped(
  Effect.flatMap(Transport, (t) => Effect.map(t.listen(makeAddress("127.0.0.1", 0)), (l) => l.address))
)

/** The Federation of example.org under test, with our public chain and the test public CA as the only anchor. */
export const federation = (
  ca: PublicCa,
  dir: Directory & { readonly layer: Layer.Layer<DomainResolver> },
  options: Partial<FederationLive.FederationOptions> = {}
) =>
  Effect.gen(function* () {
    const identity = yield* ca.server(`irp.${OURS}`)
    return yield* FederationLive.make({
      domain: OURS,
      policy: open,
      identity,
      anchors: [ca.root],
      ...options
    }).pipe(Effect.provide(dir.layer))
  })

/** Waits until `n` requests have arrived at `fake` (counting those already there). */
export const awaitRequests = (fake: FakeIrp, n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sub = yield* PubSub.subscribe(fake.arrivals)
      while (fake.requests.length < n) yield* sub.take
    })
  )

export const handleOf = (h: string) => h as Handle
export { Deferred }
