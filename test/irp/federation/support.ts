/**
 * What the federation tests of the IRP server share (PROTOCOL.md §22): example.org's IRP on loopback with
 * a federation policy, a public chain and a public verifier over test anchors; another domain's IRP as a
 * plain `IrpClient` that presents its public chain and asks for ours (`publicChain: true`); the request
 * log captured.
 */
import { Effect, Layer, type Scope } from "effect"
import { makeAddress } from "../../../src/domain/brands.js"
import type { FederationPolicy } from "../../../src/domain/federation/policy.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import * as CertificateAuthorityLive from "../../../src/layers/ca/CertificateAuthority.js"
import { CertificateAuthority } from "../../../src/layers/ca/CertificateAuthority.js"
import type { LoadedDomain, PublicIdentity } from "../../../src/layers/ca/DomainDirectory.js"
import * as IrpClientLive from "../../../src/layers/irp/client/IrpClientLive.js"
import * as IrpServerLive from "../../../src/layers/irp/server/IrpServerLive.js"
import { RequestLog, type RequestRecord } from "../../../src/layers/irp/server/requestLog.js"
import { CertVerifier } from "../../../src/services/CertVerifier.js"
import { Federation, type FederationService } from "../../../src/services/Federation.js"
import type { IrpClient, IrpClientError } from "../../../src/services/IrpClient.js"
import { IrpRegistry, type IrpRegistryService } from "../../../src/services/IrpRegistry.js"
import {
  type Base,
  buildRegistry,
  generousLimits,
  type Running,
  sqliteRegistry,
  verifierOf
} from "../protocol/support.js"

export interface FederatedServer extends Running {
  readonly log: ReadonlyArray<RequestRecord>
}

export interface FederatedServerOptions {
  readonly policy: FederationPolicy
  /** The anchors another domain's IRP is verified under (the test's "public" CAs). */
  readonly publicAnchors: ReadonlyArray<Uint8Array>
  /** example.org's own public chain, shown to an initiator that asks for it. */
  readonly publicIdentity?: PublicIdentity | undefined
  readonly server?: Partial<IrpServerLive.IrpServerPolicy> | undefined
  /** The outbound relay; none: the server relays nothing. */
  readonly federation?: FederationService | undefined
}

/** example.org's IRP with `options`' federation, on a fresh SQLite registry; its request log is captured. */
export const startFederated = (
  domain: LoadedDomain,
  options: FederatedServerOptions
): Effect.Effect<FederatedServer, unknown, Scope.Scope | Base> =>
  Effect.gen(function* () {
    const registry: IrpRegistryService = yield* buildRegistry(sqliteRegistry())
    const log: Array<RequestRecord> = []
    const configured: LoadedDomain = {
      ...domain,
      config: { ...domain.config, federation: options.policy },
      ...(options.publicIdentity === undefined ? {} : { publicIdentity: options.publicIdentity })
    }
    const ca = yield* CertificateAuthorityLive.make(configured)
    const publicVerifier = yield* CertVerifierLive.make({ anchors: options.publicAnchors })
    const made = IrpServerLive.make({
      domain: configured,
      listen: [makeAddress("127.0.0.1", 0)],
      policy: { rateLimits: generousLimits, ...options.server },
      federation: { publicVerifier }
    }).pipe(
      Effect.provideService(IrpRegistry, registry),
      Effect.provideService(CertificateAuthority, ca),
      Effect.provideService(RequestLog, { write: (r) => log.push(r) }),
      Effect.provide(verifierOf(configured))
    )
    const server = yield* options.federation === undefined
      ? made
      : Effect.provideService(made, Federation, options.federation)
    return { server, registry, address: server.addresses[0]!, domain: configured, log }
  })

/**
 * Another domain's IRP calling ours: its public chain as the client certificate, asking for our public
 * chain (`<Trust>public</Trust>`), verifying it under `anchors`.
 */
export const connectAsIrp = (
  running: Running,
  identity: PublicIdentity,
  anchors: ReadonlyArray<Uint8Array>
): Effect.Effect<IrpClient, IrpClientError, Scope.Scope | Base> =>
  IrpClientLive.connect({
    address: running.address,
    domain: running.domain.config.domain,
    identity,
    publicChain: true
  }).pipe(Effect.provide(Layer.orDie(CertVerifierLive.layer({ anchors }))))

export const openPolicy: FederationPolicy = { mode: "open", domains: [] }

/** A CertVerifier layer over `anchors`. */
export const verifierOver = (anchors: ReadonlyArray<Uint8Array>): Layer.Layer<CertVerifier> =>
  Layer.orDie(Layer.effect(CertVerifier, CertVerifierLive.make({ anchors })))
