/**
 * The live `Federation` (PROTOCOL.md §22.4): what this domain's IRP asks other domains' IRPs on its
 * users' behalf, server to server. Per foreign domain D it keeps one session (`dialForeign`: §21
 * discovery, the Web PKI and the name `irp.D`, our public chain as client certificate), reused by every
 * request (the client multiplexes them by id), D's root as that session's `DomainInfo` gave it (cached at
 * most an hour, a change logged, §22.3.3), a circuit breaker and a count of outstanding requests
 * (§22.6). The outbound side of our federation policy (§22.5) is applied before anything is sent.
 *
 * Bounds (§22.6): connect and handshake 5 s (every address of D together); one relayed request 5 s; at
 * most 64 outstanding requests per domain (more fail at once, nothing queues without bound); at most 256
 * foreign domains in the table (least recently used dropped first, idle ones before busy ones; that
 * closes its session); 3 consecutive failures open the domain's breaker for 30 s. A slow domain costs
 * only its own requests: no lock is shared between domains.
 */
import { Clock, Duration, Effect, Exit, Layer, type Scope, Stream } from "effect"
import type { Handle } from "../../domain/brands.js"
import type { CertError } from "../../domain/cert/verify.js"
import * as Breaker from "../../domain/federation/breaker.js"
import { normalizeDomain } from "../../domain/federation/discovery.js"
import { domainOfHandle, outboundRefusal } from "../../domain/federation/outbound.js"
import type { FederationPolicy } from "../../domain/federation/policy.js"
import { SessionTable } from "../../domain/federation/sessionTable.js"
import { CertVerifier } from "../../services/CertVerifier.js"
import { DomainResolver } from "../../services/DomainResolver.js"
import type { Entropy } from "../../services/Entropy.js"
import { Federation, type FederationError, type FederationService } from "../../services/Federation.js"
import type { IdentityChange, IrpClientError } from "../../services/IrpClient.js"
import type { Transport } from "../../services/Transport.js"
import * as CertVerifierLive from "../CertVerifierLive.js"
import type { CryptoPorts } from "../crypto/CryptoLive.js"
import * as IrpClientLive from "../irp/client/IrpClientLive.js"
import { DomainState, type Session } from "./domainState.js"
import { fromClientError, refusedHere, sessionLost, unavailable } from "./federationErrors.js"
import { checkLookup } from "./lookupCheck.js"
import { type PublicAnchorsError, publicAnchors } from "./publicAnchors.js"
import { acquireWatch } from "./sharedWatch.js"

/** The bounds of §22.6 (tests give small ones). */
export interface FederationBounds {
  /** TCP connect plus handshake to a foreign IRP, every address of the domain together. */
  readonly connectTimeout: Duration.DurationInput
  /** One relayed request. */
  readonly requestTimeout: Duration.DurationInput
  /** Requests to one domain in progress at once (waiting for its dial included). */
  readonly maxOutstanding: number
  /** Foreign domains with state (and at most one open session each). */
  readonly maxDomains: number
  /** Consecutive failures that open a domain's breaker. */
  readonly breakerFailures: number
  /** How long an open breaker refuses. */
  readonly breakerOpen: Duration.DurationInput
  /** How long a domain's root is used before it is asked again (at most an hour, §22.3.3). */
  readonly rootTtl: Duration.DurationInput
  /** A `<Ping>` this often keeps an idle federation session open (the client's default: 60 s). */
  readonly keepAlive?: Duration.DurationInput | undefined
}

export const defaultBounds: FederationBounds = {
  connectTimeout: Duration.seconds(5),
  requestTimeout: Duration.seconds(5),
  maxOutstanding: 64,
  maxDomains: 256,
  breakerFailures: 3,
  breakerOpen: Duration.seconds(30),
  rootTtl: Duration.hours(1)
}

/** One relayed request, as `irp serve`'s request log wants it (§22.6). */
export interface RelayedRequest {
  readonly domain: string
  /** `Lookup`, `Status`, `DomainInfo` or `Watch`. */
  readonly request: string
  /** `ok`, or the failure's reason (`Refused`, `Unavailable`, `NotFound`). */
  readonly outcome: string
  readonly ms: number
}

export interface FederationOptions {
  /** Our domain (as `irp.json` names it). */
  readonly domain: string
  readonly policy: FederationPolicy
  /** Our public chain (key PKCS#8 DER, chain DER leaf first) for `irp.<domain>` (§22.2.1). */
  readonly identity: { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> }
  /** The anchors foreign IRPs are verified under; default `publicAnchors()` (§22.2.4). */
  readonly anchors?: ReadonlyArray<Uint8Array> | undefined
  readonly bounds?: Partial<FederationBounds> | undefined
  /** Called after each relayed request (the request log); also logged at debug level. */
  readonly onRequest?: ((request: RelayedRequest) => Effect.Effect<void>) | undefined
}

export type FederationRequirements = DomainResolver | Transport | CryptoPorts | Entropy

export const make = (
  options: FederationOptions
): Effect.Effect<FederationService, PublicAnchorsError | CertError, Scope.Scope | FederationRequirements> =>
  Effect.gen(function* () {
    const ours = options.domain
    const bounds = { ...defaultBounds, ...options.bounds }
    const connectTimeout = Duration.decode(bounds.connectTimeout)
    const requestTimeout = Duration.decode(bounds.requestTimeout)
    const breakerPolicy = {
      failures: bounds.breakerFailures,
      openMs: Duration.toMillis(Duration.decode(bounds.breakerOpen))
    }
    const rootTtlMs = Math.min(Duration.toMillis(Duration.decode(bounds.rootTtl)), 3_600_000)
    const anchors = options.anchors ?? (yield* publicAnchors())
    const verifier = yield* CertVerifierLive.make({ anchors })
    const clients = yield* IrpClientLive.make.pipe(Effect.provideService(CertVerifier, verifier))
    const resolver = yield* DomainResolver
    const layerScope = yield* Effect.scope
    const table = new SessionTable<string, DomainState>(bounds.maxDomains)
    const dialParams = {
      resolver,
      clients,
      identity: options.identity,
      connectTimeout,
      requestTimeout,
      keepAlive: bounds.keepAlive
    }

    /** The state of `domain`, made (and the least recently used one dropped) when new. */
    const stateOf = (domain: string): Effect.Effect<DomainState> =>
      Effect.suspend(() => {
        const known = table.use(domain)
        if (known !== undefined) return Effect.succeed(known)
        const state = new DomainState(domain, layerScope, dialParams, rootTtlMs)
        const dropped = table.store(domain, state, (s) => s.busy)
        return Effect.as(
          Effect.forEach(dropped, ([, s]) => s.drop(), { discard: true }),
          state
        )
      })

    /**
     * One relayed request to `domain`: policy, breaker and outstanding bound first (refusals at once),
     * then the session (shared dial), then `use`. A session found dead is dropped and dialled again once.
     */
    const relay = <A>(
      domain: string,
      request: string,
      use: (session: Session, state: DomainState) => Effect.Effect<A, IrpClientError | FederationError, Scope.Scope>
    ): Effect.Effect<A, FederationError, Scope.Scope> =>
      Effect.gen(function* () {
        const refusal = outboundRefusal(ours, options.policy, domain)
        if (refusal !== undefined) return yield* Effect.fail(refusedHere(domain, refusal))
        const state = yield* stateOf(domain)
        const start = yield* Clock.currentTimeMillis
        const admission = Breaker.admit(state.breaker, start)
        if (admission._tag === "Refused")
          return yield* Effect.fail(
            unavailable(
              domain,
              `the IRP of ${domain} failed ${breakerPolicy.failures} times in a row: circuit open until ${new Date(admission.until).toISOString()}; try again later`
            )
          )
        state.breaker = admission.breaker
        if (state.outstanding >= bounds.maxOutstanding)
          return yield* Effect.fail(
            unavailable(
              domain,
              `${bounds.maxOutstanding} requests to the IRP of ${domain} are already in progress; try again later`
            )
          )
        state.outstanding++
        const attempt = (retry: boolean): Effect.Effect<A, FederationError, Scope.Scope> =>
          Effect.flatMap(state.session(), ({ session, reused }) =>
            use(session, state).pipe(
              Effect.catchAll((e) => {
                if (e._tag === "FederationError") return Effect.fail(e)
                if (!sessionLost(e)) return Effect.fail(fromClientError(domain, e))
                // A reused session that had died since its last request: dial once more.
                return Effect.zipRight(
                  state.lose(session),
                  retry && reused ? attempt(false) : Effect.fail(fromClientError(domain, e))
                )
              })
            )
          )
        return yield* attempt(true).pipe(
          Effect.onExit((exit) =>
            Effect.gen(function* () {
              state.outstanding--
              const end = yield* Clock.currentTimeMillis
              const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
              if (Exit.isSuccess(exit) || (failure !== undefined && failure.reason !== "Unavailable"))
                state.breaker = Breaker.succeeded(state.breaker)
              else if (failure !== undefined) state.breaker = Breaker.failed(state.breaker, end, breakerPolicy)
              const line: RelayedRequest = {
                domain,
                request,
                outcome: Exit.isSuccess(exit) ? "ok" : (failure?.reason ?? "interrupted"),
                ms: end - start
              }
              yield* Effect.logDebug(`federation ${request} to ${domain}: ${line.outcome} in ${line.ms} ms`).pipe(
                Effect.annotateLogs({ federation: domain, request, outcome: line.outcome, ms: line.ms })
              )
              if (options.onRequest !== undefined) yield* options.onRequest(line)
            })
          )
        )
      })

    const domainOf = (text: string): Effect.Effect<string, FederationError> => {
      const domain = normalizeDomain(text)
      return domain === undefined
        ? Effect.fail(refusedHere(text, `"${text}" is not a domain name`))
        : Effect.succeed(domain)
    }

    const service: FederationService = {
      lookup: Effect.fn("Federation.lookup")(function* (handle: Handle) {
        const domain = domainOfHandle(handle)
        if (domain === undefined) return yield* Effect.fail(refusedHere(handle, `${handle} names no domain`))
        return yield* Effect.scoped(
          relay(domain, "Lookup", (session, state) =>
            Effect.gen(function* () {
              const record = yield* session.client.lookup(handle)
              yield* checkLookup(domain, handle, record)
              const info = yield* state.root(session)
              return { ...record, domainRoot: { root: info.root, rootCertificate: info.rootCertificate } }
            })
          )
        )
      }),
      status: Effect.fn("Federation.status")(function* (domainText, serial, statusOptions) {
        const domain = yield* domainOf(domainText)
        return yield* Effect.scoped(
          relay(domain, "Status", (session) =>
            session.client.status(serial, statusOptions?.staple === true ? { staple: true } : undefined)
          )
        )
      }),
      domainInfo: Effect.fn("Federation.domainInfo")(function* (domainText) {
        const domain = yield* domainOf(domainText)
        return yield* Effect.scoped(relay(domain, "DomainInfo", (session, state) => state.root(session)))
      }),
      watch: (handles) =>
        Effect.gen(function* () {
          const streams: Array<Stream.Stream<IdentityChange, FederationError>> = []
          for (const handle of new Set(handles)) {
            const domain = domainOfHandle(handle)
            if (domain === undefined) return yield* Effect.fail(refusedHere(handle, `${handle} names no domain`))
            streams.push(
              yield* relay(domain, "Watch", (session, state) =>
                acquireWatch(domain, session, handle, state.lose(session))
              )
            )
          }
          return streams.length === 1 ? streams[0]! : Stream.mergeAll(streams, { concurrency: "unbounded" })
        })
    }
    return service
  })

/** The `Federation` service; its sessions close with the layer. */
export const layer = (
  options: FederationOptions
): Layer.Layer<Federation, PublicAnchorsError | CertError, FederationRequirements> =>
  Layer.scoped(Federation, make(options))
