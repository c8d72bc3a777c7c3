/**
 * What the IRP protocol tests share: a real domain made by `initDomain` in a temp dir, an IRP server on
 * 127.0.0.1 (port chosen by the OS) over a given storage, and helpers to mint tokens, keys and CSRs and to
 * connect clients (anonymous or with an identity).
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Clock, Context, Effect, Layer, Logger, LogLevel, type Scope } from "effect"
import { type Address, Handle, makeAddress } from "../../../src/domain/brands.js"
import { ENROLLMENT_TOKEN_BYTES, formatEnrollmentToken } from "../../../src/domain/pki/token.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import * as CertificateAuthorityLive from "../../../src/layers/ca/CertificateAuthority.js"
import { CertificateAuthority } from "../../../src/layers/ca/CertificateAuthority.js"
import { createCsr } from "../../../src/layers/ca/csr.js"
import { initDomain, type LoadedDomain, loadDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { generateKeyPair } from "../../../src/layers/ca/keys.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as IrpClientLive from "../../../src/layers/irp/client/IrpClientLive.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as IrpServerLive from "../../../src/layers/irp/server/IrpServerLive.js"
import * as SqliteLive from "../../../src/layers/sql/SqliteLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import type { CertVerifier } from "../../../src/services/CertVerifier.js"
import type { IrpClient, IrpClientError, IrpConnectOptions } from "../../../src/services/IrpClient.js"
import { IrpRegistry, type IrpRegistryService } from "../../../src/services/IrpRegistry.js"
import type { IrpServerService } from "../../../src/services/IrpServer.js"

export const DOMAIN = "example.org"
const dirs: Array<string> = []

/** A fresh temp directory, removed by `removeTempDirs`. */
export const tempDir = (prefix = "sixchat-irp-"): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}
export const removeTempDirs = (): void => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A new domain directory (root, issuing CA, server certificate for irp.<domain>), loaded. */
export const makeDomain = (domain = DOMAIN): Promise<LoadedDomain> => {
  const dir = join(tempDir(), domain)
  return Effect.runPromise(
    Effect.flatMap(initDomain({ dir, domain, now: new Date(), entropy: (n) => new Uint8Array(randomBytes(n)) }), () =>
      loadDomain(dir)
    )
  )
}

/** Transport, crypto ports and Entropy: what servers and clients need besides storage. */
export const baseLayer = Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)
export type Base = Layer.Layer.Success<typeof baseLayer>

/** The registry on a fresh SQLite file. */
export const sqliteRegistry = (): Layer.Layer<IrpRegistry, unknown> =>
  SqlRegistry.layer.pipe(Layer.provide(SqliteLive.layer(join(tempDir(), "irp.sqlite"))))

export interface Running {
  readonly server: IrpServerService
  readonly registry: IrpRegistryService
  readonly address: Address
  readonly domain: LoadedDomain
}

/** Limits no functional test reaches (the rate-limit tests set their own). */
export const generousLimits: IrpServerLive.IrpServerPolicy["rateLimits"] = {
  anonymous: { burst: 100_000, perSecond: 100_000 },
  authenticated: { burst: 100_000, perSecond: 100_000 },
  maxTrackedKeys: 1000
}

/** An IRP server on 127.0.0.1 over `registry`, alive for the scope; rate limits generous unless `policy` says otherwise. */
export const startServer = (
  domain: LoadedDomain,
  registry: IrpRegistryService,
  policy?: Partial<IrpServerLive.IrpServerPolicy>,
  verifier: Layer.Layer<CertVerifier> = verifierOf(domain)
): Effect.Effect<Running, unknown, Scope.Scope | Base> =>
  Effect.gen(function* () {
    const ca = yield* CertificateAuthorityLive.make(domain)
    const server = yield* IrpServerLive.make({
      domain,
      listen: [makeAddress("127.0.0.1", 0)],
      policy: { rateLimits: generousLimits, ...policy }
    }).pipe(
      Effect.provideService(IrpRegistry, registry),
      Effect.provideService(CertificateAuthority, ca),
      Effect.provide(verifier)
    )
    return { server, registry, address: server.addresses[0]!, domain }
  })

/** A CertVerifier that trusts the domain's root: what servers and clients of `domain` check chains with. */
export const verifierOf = (domain: LoadedDomain): Layer.Layer<CertVerifier> =>
  Layer.orDie(CertVerifierLive.layer({ anchors: [domain.rootCertificate] }))

/** Builds a registry layer in the current scope. */
export const buildRegistry = (layer: Layer.Layer<IrpRegistry, unknown>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, IrpRegistry))

/** A one-time token for `handle`, valid `ttlMs` from the Clock's now. */
export const newToken = (registry: IrpRegistryService, handle: Handle, ttlMs = 3_600_000) =>
  Effect.gen(function* () {
    const token = formatEnrollmentToken(new Uint8Array(randomBytes(ENROLLMENT_TOKEN_BYTES)))
    const now = yield* Clock.currentTimeMillis
    yield* registry.createToken({
      handle,
      tokenHash: new Uint8Array(createHash("sha256").update(token).digest()),
      expiresAt: now + ttlMs
    })
    return token
  })

export interface Key {
  readonly pkcs8: Uint8Array
  readonly csrFor: (handle: Handle) => Effect.Effect<Uint8Array, unknown>
}

export const newKey: Effect.Effect<Key, unknown> = Effect.map(generateKeyPair(), (pair) => ({
  pkcs8: pair.pkcs8,
  csrFor: (handle: Handle) => createCsr({ handle, pkcs8: pair.pkcs8 })
}))

export const handle = (local: string, domain = DOMAIN): Handle => Handle.make(`${local}@${domain}`)

export const connect = (
  running: Running,
  identity: IrpConnectOptions["identity"],
  options: Partial<IrpConnectOptions> = {}
): Effect.Effect<IrpClient, IrpClientError, Scope.Scope | Base> =>
  IrpClientLive.connect({
    address: running.address,
    domain: running.domain.config.domain,
    identity,
    ...options
  }).pipe(Effect.provide(verifierOf(running.domain)))

export interface Enrolled {
  readonly handle: Handle
  readonly identity: { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> }
  readonly serial: string
}

/** Enrols `local@domain` anonymously with a fresh token and key. */
export const enrol = (running: Running, local: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const h = handle(local, running.domain.config.domain)
      const token = yield* newToken(running.registry, h)
      const key = yield* newKey
      const anonymous = yield* connect(running, null)
      const issued = yield* anonymous.enroll({ handle: h, token, csr: yield* key.csrFor(h) })
      return { handle: h, identity: { pkcs8: key.pkcs8, chain: issued.chain }, serial: issued.serial } as Enrolled
    })
  )

/** The failure reason of an IRP call (fails the test if it succeeded). */
export const reasonOf = <A, R>(effect: Effect.Effect<A, IrpClientError, R>) =>
  Effect.map(Effect.flip(effect), (e) => e.reason)

/** `baseLayer` with logs from Warning up: the protocol tests' environment (request lines stay out of the output). */
export const quietLayer = Layer.merge(baseLayer, Logger.minimumLogLevel(LogLevel.Warning))

/** A server for `domain` on a fresh SQLite registry. */
export const sqliteServer = (domain: LoadedDomain, policy?: Parameters<typeof startServer>[2]) =>
  Effect.flatMap(buildRegistry(sqliteRegistry()), (registry) => startServer(domain, registry, policy))
