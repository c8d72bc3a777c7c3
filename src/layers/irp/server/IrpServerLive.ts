/**
 * The IRP server of one domain (PROTOCOL.md §§2, 13 and 17): listens, runs the secure channel's handshake
 * as the responder with the domain's server certificate (anonymous initiators allowed, for enrolment),
 * then serves each connection (`session.ts`) from the `IrpRegistry` and the `CertificateAuthority`.
 *
 * Peers' chains are checked by the `CertVerifier` of the context (the composition gives one that trusts
 * the domain's root: `CertVerifierLive.layer({ anchors: [domain.rootCertificate] })`, or a mock), and on
 * top of it against the live revocation view, so a revoked holder cannot even complete a handshake. Connections are taken as they come and bounded: in all and
 * per source (`maxConnections`, `maxConnectionsPerSource`; past them a new one is closed at once), and
 * while in their handshake by the fair admission of `transport/Admission.ts` (`maxHandshakes`,
 * `maxHandshakesPerSource`; issue 10 §4, PROTOCOL.md §17.1.7). Closing the scope stops
 * listening, interrupts every connection (each sends `<Close/>`) and ends the background fibers; the CLI
 * closes it on SIGINT/SIGTERM.
 *
 * Federation (PROTOCOL.md §22): the domain's public chain, when it has one, is shown to an initiator that
 * asks `<Trust>public</Trust>`; unless the policy is `closed`, a client chain that does not lead to the
 * domain root is tried under the public anchors and, naming `irp.X`, makes the caller the IRP of X
 * (`federationCallers.ts`), answered as `access.ts` allows. Users' requests for other domains go to the
 * `Federation` service of the context when there is one (`relay.ts`).
 *
 * Lookups are answered from an in-memory cache when it holds the handle (`lookup.ts`), which the
 * registry's `onChange` keeps current; each request is logged through the `RequestLog` of the context
 * (`requestLog.ts`), else through the Effect loggers present when the server was built.
 */
import { Duration, Effect, Either, Exit, Layer, Option, Scope } from "effect"
import { type Address, formatAddress, type Handle } from "../../../domain/brands.js"
import { makeLocalIdentity } from "../../../domain/handshake/identity.js"
import { irpServerCodec } from "../../../domain/irp/xml.js"
import { sourceKey } from "../../../domain/sourceKey.js"
import { CertVerifier, type CertVerifierService } from "../../../services/CertVerifier.js"
import { cryptoSuite } from "../../../services/Crypto.js"
import { Federation } from "../../../services/Federation.js"
import { IrpRegistry } from "../../../services/IrpRegistry.js"
import { IrpServer, IrpServerError, type IrpServerService } from "../../../services/IrpServer.js"
import { type Connection, Transport } from "../../../services/Transport.js"
import { CertificateAuthority } from "../../ca/CertificateAuthority.js"
import type { LoadedDomain } from "../../ca/DomainDirectory.js"
import { type ChannelOptions, make as makeChannels } from "../../channel/SecureChannelLive.js"
import { publicVerifier } from "../../federation/publicAnchors.js"
import { revocationChecked } from "../../revocationChecked.js"
import type { ConnectionHandler } from "../../transport/Admission.js"
import * as Admission from "../../transport/Admission.js"
import { makeCertificateCopies } from "./certificateCopies.js"
import * as Crl from "./crl.js"
import * as FederationCallers from "./federationCallers.js"
import { changedOf } from "./handlers.js"
import { makeAnswerCache } from "./lookup.js"
import * as RateLimiter from "./rateLimiter.js"
import * as RequestLog from "./requestLog.js"
import * as Revocations from "./revocations.js"
import { type SessionContext, serveChannel } from "./session.js"
import { makeHub } from "./watches.js"

/** Certificates whose DER (and so base64 text) answers share, at most: ~3 KB each (`certificateCopies.ts`). */
const CERTIFICATE_COPIES = 4096

export interface IrpServerPolicy {
  /** PROTOCOL.md §17.3.1: Lookup is for authenticated users unless this is set (default false). */
  readonly allowAnonymousLookup: boolean
  /** Handles that may revoke any certificate over the protocol (default none; the CLI revokes locally). */
  readonly administrators: ReadonlyArray<Handle>
  /** Connections served at once (default 1024); one more is closed at once. */
  readonly maxConnections: number
  /**
   * Connections at once from one source (an IPv4 address or an IPv6 /64; default 256, room for a large
   * NAT), so one host cannot take every slot by opening connections it never completes.
   */
  readonly maxConnectionsPerSource: number
  /**
   * Connections in their handshake at once (default 256); when full, the source holding the most
   * loses its oldest to a newcomer (issue 10 §4, `domain/admission.ts`; PROTOCOL.md §17.1.7).
   */
  readonly maxHandshakes: number
  /** Connections in their handshake at once from one source (default 32); more are closed at once. */
  readonly maxHandshakesPerSource: number
  /** Writing or signing requests of one connection in progress at once (default 16); reads are answered in order. */
  readonly maxInFlightPerConnection: number
  /** Handles one connection may watch (default 256). */
  readonly maxWatchesPerConnection: number
  readonly rateLimits: RateLimiter.RateLimitPolicy
  /** Reload of the revocation list even without a change notice (default 30 s). */
  readonly revocationRefresh: Duration.DurationInput
  /** A signed CRL is reused this long unless a revocation happens (default 1 hour). */
  readonly crlMaxAge: Duration.DurationInput
  /**
   * Lookup answers kept in memory (default 0: off; `irp serve --lookup-cache N`); see `lookup.ts`.
   * Off by default: a hit costs about a third of a database read, which pays where lookups are skewed
   * (people look up the same few contacts), but with lookups spread evenly over a large registry nearly
   * every one misses, so a cache would make the cost of a lookup depend on the registry's size
   * (docs/DECISIONS.md, "IRP Lookup answer cache").
   */
  readonly lookupCacheEntries: number
  /**
   * Longest a cached Lookup answer is served after the read that filled it (default 5 s). The registry's
   * `onChange` drops answers at once (this process's writes, other processes' PostgreSQL notices, other
   * processes' writes to the SQLite file within a quarter of a second); this bounds what it could miss
   * (a PostgreSQL LISTEN connection that dies silently).
   */
  readonly lookupCacheTtl: Duration.DurationInput
}

export const defaultPolicy: IrpServerPolicy = {
  allowAnonymousLookup: false,
  administrators: [],
  maxConnections: 1024,
  maxConnectionsPerSource: 256,
  maxHandshakes: 256,
  maxHandshakesPerSource: 32,
  maxInFlightPerConnection: 16,
  maxWatchesPerConnection: 256,
  rateLimits: RateLimiter.defaultRateLimits,
  revocationRefresh: Duration.seconds(30),
  crlMaxAge: Duration.hours(1),
  lookupCacheEntries: 0,
  lookupCacheTtl: Duration.seconds(5)
}

/** PROTOCOL.md §22: the server's side of federation. */
export interface IrpServerFederation {
  /**
   * Verifies other domains' IRPs as callers (§22.2.5), under the public anchors. Default, unless the
   * policy is `closed`: `publicVerifier()` (Node's roots plus `SIXCHAT_EXTRA_ROOTS`). Tests give one
   * over their own test anchor.
   */
  readonly publicVerifier?: CertVerifierService | undefined
}

export interface IrpServerOptions {
  /** The domain directory, loaded (`loadDomain`): server certificate and key, root, issuing chain. */
  readonly domain: LoadedDomain
  /** Where to listen (port 0: any free port; see `IrpServer.addresses`). */
  readonly listen: ReadonlyArray<Address>
  readonly policy?: Partial<IrpServerPolicy> | undefined
  /** Handshake / idle timeouts of the secure channel. */
  readonly channel?: Partial<ChannelOptions> | undefined
  /**
   * Federation (PROTOCOL.md §22): inbound callers are verified as this says; outbound requests go to the
   * `Federation` service when the context has one (else they are refused `federation_refused`).
   */
  readonly federation?: IrpServerFederation | undefined
}

export const make = (options: IrpServerOptions) =>
  Effect.gen(function* () {
    const policy: IrpServerPolicy = { ...defaultPolicy, ...options.policy }
    const { domain } = options
    const registry = yield* IrpRegistry
    const ca = yield* CertificateAuthority
    const transport = yield* Transport
    const crypto = yield* cryptoSuite

    const identity = makeLocalIdentity(crypto, domain.serverKey, domain.serverChain)
    if (Either.isLeft(identity))
      return yield* new IrpServerError({
        reason: "Identity",
        message: `The server certificate cannot be used: ${identity.left}; check server.pem and server-key.pem.`
      })

    const revocations = yield* Revocations.make(registry, policy.revocationRefresh).pipe(
      Effect.mapError(
        (cause) =>
          new IrpServerError({ reason: "Storage", message: `Cannot read the revocation list: ${cause.message}`, cause })
      )
    )
    const federationPolicy = domain.config.federation
    // PROTOCOL.md §22.2.1: the public chain, for an initiator that asks <Trust>public</Trust>.
    const publicIdentity =
      domain.publicIdentity === undefined
        ? undefined
        : makeLocalIdentity(crypto, domain.publicIdentity.pkcs8, domain.publicIdentity.chain)
    if (publicIdentity !== undefined && Either.isLeft(publicIdentity))
      return yield* new IrpServerError({
        reason: "Identity",
        message: `The public certificate cannot be used: ${publicIdentity.left}; check irp.json's publicChain files.`
      })
    // §22.2.5, §22.5: an IRP with a public chain authenticates other domains' IRPs even when closed, so that
    // it can say so (`federation_refused` "… does not accept federation from X") rather than fail their
    // handshake; one that is closed and has no public chain does not try the public anchors at all.
    const publicAnchors =
      federationPolicy.mode === "closed" && publicIdentity === undefined
        ? undefined
        : (options.federation?.publicVerifier ??
          (yield* publicVerifier().pipe(
            Effect.mapError(
              (cause) =>
                new IrpServerError({
                  reason: "Federation",
                  message: `The public anchors for other domains' IRPs cannot be read: ${cause.message}`,
                  cause
                })
            )
          )))
    const callers = FederationCallers.make({
      local: revocationChecked(yield* CertVerifier, revocations.source),
      publicAnchors,
      ownDomain: domain.config.domain
    })
    const relay = Option.getOrUndefined(yield* Effect.serviceOption(Federation))
    const channels = yield* makeChannels({
      codec: irpServerCodec,
      identity: identity.right,
      ...(publicIdentity === undefined ? {} : { publicIdentity: publicIdentity.right }),
      allowAnonymousPeer: true,
      ...(options.channel === undefined ? {} : { options: options.channel })
    }).pipe(Effect.provideService(CertVerifier, callers.verifier))

    const answers = makeAnswerCache({
      maxEntries: policy.lookupCacheEntries,
      ttlMs: Duration.toMillis(policy.lookupCacheTtl),
      revocations
    })
    // Before any request is served: from here on, no committed change can leave a stale answer behind.
    yield* registry.onChange({ changed: (change) => answers.invalidate(change.handle), lost: answers.clear })

    const base = {
      registry,
      ca,
      domain: domain.config.domain,
      rootCertificate: domain.rootCertificate,
      federation: federationPolicy.mode,
      federationPolicy,
      relay,
      issuerChain: domain.issuer.chain,
      revocations,
      answers,
      certificates: makeCertificateCopies(CERTIFICATE_COPIES),
      crl: yield* Crl.make(registry, ca, revocations, policy.crlMaxAge),
      administrators: new Set<string>(policy.administrators)
    }
    const ctx: SessionContext = {
      ...base,
      limits: policy,
      limiter: RateLimiter.make(policy.rateLimits),
      log: yield* RequestLog.current,
      federationOf: callers.domainOf,
      // A certificate change may be a revocation made by another process: read it before the new state.
      hub: yield* makeHub(registry, (change) =>
        Effect.zipRight(
          change.kind === "certificate" ? revocations.reload : Effect.void,
          changedOf(base, change.handle)
        )
      )
    }

    let open = 0
    const perSource = new Map<string, number>()
    /** Counts the connection against the totals; the refusal, with nothing counted, when a cap is reached. */
    const admit = (key: string) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          if (open >= policy.maxConnections) return `over ${policy.maxConnections} connections in all`
          const n = perSource.get(key) ?? 0
          if (n >= policy.maxConnectionsPerSource)
            return `over ${policy.maxConnectionsPerSource} connections from this source`
          perSource.set(key, n + 1)
          open++
          return undefined
        }),
        (refused) =>
          Effect.sync(() => {
            if (refused !== undefined) return
            open--
            const n = (perSource.get(key) ?? 1) - 1
            if (n > 0) perSource.set(key, n)
            else perSource.delete(key)
          })
      )
    /** One connection: counted, handshake (its slot freed by `established`), then served until it ends. */
    const serveConnection = (connection: Connection, established: Effect.Effect<void>): Effect.Effect<void> =>
      Effect.scoped(
        admit(sourceKey(connection.remote.host)).pipe(
          Effect.flatMap((refused) =>
            refused === undefined
              ? channels.accept(connection)
              : Effect.zipRight(connection.destroy, Effect.fail({ message: refused }))
          ),
          Effect.tap(() => established),
          Effect.flatMap((channel) => serveChannel(ctx, channel)),
          Effect.catchAll((e) =>
            Effect.logDebug("irp handshake failed").pipe(
              Effect.annotateLogs({ remote: formatAddress(connection.remote), reason: e.message })
            )
          )
        )
      )
    const handleConnection = (connection: Connection) => serveConnection(connection, Effect.void)

    // Issue 10 §4: connections are taken at once and admitted fairly (PROTOCOL.md §17.1.7).
    const gate = Admission.make({
      maxHandshakes: policy.maxHandshakes,
      maxHandshakesPerSource: policy.maxHandshakesPerSource
    })
    const handler: ConnectionHandler = (connection, scope, established) =>
      Effect.ensuring(serveConnection(connection, established), Scope.close(scope, Exit.void))

    const listeners = yield* Effect.forEach(options.listen, (address) =>
      transport
        .listen(address)
        .pipe(Effect.mapError((cause) => new IrpServerError({ reason: "Listen", message: cause.message, cause })))
    )
    yield* Effect.forEach(listeners, (l) => Effect.forkScoped(gate.serve(l, handler)), { discard: true })
    yield* Effect.logInfo("irp server listening").pipe(
      Effect.annotateLogs({
        domain: domain.config.domain,
        addresses: listeners.map((l) => formatAddress(l.address)).join(" ")
      })
    )

    const service: IrpServerService = {
      addresses: listeners.map((l) => l.address),
      handleConnection,
      connections: Effect.sync(() => open)
    }
    return service
  })

/**
 * The server as a scoped layer; needs the registry, the CA, a `CertVerifier` trusting the domain's root, a
 * Transport, crypto ports and Entropy, each from its tag.
 */
export const layer = (options: IrpServerOptions) => Layer.scoped(IrpServer, make(options))
