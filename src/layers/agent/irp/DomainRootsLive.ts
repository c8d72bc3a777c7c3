/**
 * DomainRoots over the home IRP and the agent store (PROTOCOL.md §22.3.3, §22.4): a foreign domain's
 * root is pinned the first time the home IRP relays it (in a `LookupResult`'s `<DomainCa>` or a relayed
 * `DomainInfo`), and a different one later is a domain key change: the pin moves at once and the change
 * stays on record, or, with `strictKeys`, the old pin stays and every peer of that domain is refused until
 * the user runs `sixchat trust @D`.
 *
 * The UA never talks to a foreign IRP (§22.1): every question goes to its own IRP, which relays it. A
 * relayed answer is bounded by `requestTimeout` (default 5 s, inside the 10 s handshake deadline of §6.7
 * when a handshake waits for it).
 */
import { createHash } from "node:crypto"
import { Duration, Effect, Layer } from "effect"
import type { DomainName, DomainPinResult, PresentedRoot } from "../../../domain/agent/domainRoots.js"
import type { Fingerprint } from "../../../domain/brands.js"
import { formatName } from "../../../domain/cert/names.js"
import { checkDomainRoot } from "../../../domain/federation/domainRoot.js"
import { AgentStore } from "../../../services/AgentStore.js"
import { DomainRootError, DomainRoots, type DomainRootsService } from "../../../services/DomainRoots.js"
import type { DomainInfoRecord, DomainRoot, IrpClientError } from "../../../services/IrpClient.js"
import { IrpConnection, isConnectionFailure } from "./IrpConnection.js"

export interface DomainRootsOptions {
  /** Hold a changed root until `sixchat trust @D` (the agent's `--strict-keys`). */
  readonly strictKeys?: boolean | undefined
  /** Longest wait for a relayed `DomainInfo` (default 5 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** Least time between two refreshes of one domain's root (default 60 s). */
  readonly refreshInterval?: Duration.DurationInput | undefined
}

/** Domains remembered for refresh pacing and recent failures (oldest forgotten first). */
const MAX_REMEMBERED = 1024
/** A domain whose root could not be had is not asked about again for this long (a peer retrying, or
 * strangers claiming handles of made-up domains, must not turn into one relayed request each). */
const FAILURE_HOLD_MS = 30_000

const remember = <V>(map: Map<string, V>, key: string, value: V) => {
  map.delete(key)
  map.set(key, value)
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string)
}

const fingerprintOf = (der: Uint8Array) => createHash("sha256").update(der).digest("hex") as Fingerprint

export const presented = (root: DomainRoot): PresentedRoot => ({
  der: root.root,
  fingerprint: fingerprintOf(root.root),
  subject: formatName(root.rootCertificate.subject)
})

const decodeBase64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"))

/** An IRP refusal as the user reads it (PROTOCOL.md §22.5: `federation_refused` carries the IRP's sentence). */
export const relayError = (domain: string, e: IrpClientError): DomainRootError => {
  if (e.reason === "federation_refused")
    return new DomainRootError({ reason: "Refused", message: e.serverMessage ?? e.message, cause: e })
  if (e.reason === "federation_unavailable")
    return new DomainRootError({ reason: "Unavailable", message: e.message, cause: e })
  if (e.reason === "WrongDomain" || e.reason === "DomainRootRefused")
    return new DomainRootError({
      reason: "Refused",
      message: `The CA your IRP relayed for ${domain} is refused: ${e.message}`,
      cause: e
    })
  if (isConnectionFailure(e) || e.reason === "Timeout")
    return new DomainRootError({
      reason: "Unavailable",
      message: `The CA of ${domain} cannot be fetched: your IRP server is not reachable now (${e.message}); the agent keeps trying.`,
      cause: e
    })
  return new DomainRootError({
    reason: "Refused",
    message: `Your IRP server does not give the CA of ${domain}: ${e.message}`,
    cause: e
  })
}

const storage = (e: { readonly message: string }) =>
  new DomainRootError({ reason: "Storage", message: `the agent store failed: ${e.message}`, cause: e })

const held = (domain: string) =>
  new DomainRootError({
    reason: "Held",
    message: `The CA of ${domain} changed and is held (strict keys): nobody of ${domain} is accepted until you check the change with them and run \`sixchat trust @${domain}\`.`
  })

export const make = (options: DomainRootsOptions = {}) =>
  Effect.gen(function* () {
    const connection = yield* IrpConnection
    const store = yield* AgentStore
    const clock = yield* Effect.clock
    const timeout = Duration.decode(options.requestTimeout ?? Duration.seconds(5))
    const refreshMs = Duration.toMillis(Duration.decode(options.refreshInterval ?? Duration.seconds(60)))
    const lastRefresh = new Map<string, number>()
    const failures = new Map<string, { readonly at: number; readonly error: DomainRootError }>()

    const fetchInfo = (domain: DomainName): Effect.Effect<DomainInfoRecord, DomainRootError> =>
      connection
        .use((client) => client.domainInfo(domain, { relay: true }))
        .pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new DomainRootError({
                reason: "Unavailable",
                message: `Your IRP server did not answer for the CA of ${domain} within ${Duration.format(timeout)}: try again later.`
              })
          }),
          Effect.catchTag("IrpClientError", (e) => Effect.fail(relayError(domain, e)))
        )

    const observe = (domain: DomainName, root: DomainRoot): Effect.Effect<DomainPinResult, DomainRootError> =>
      Effect.gen(function* () {
        // §22.3.2, checked here too (the IRP client checks it already): a root that could vouch for
        // anyone outside `domain` is never pinned.
        const fit = checkDomainRoot(root.root, domain)
        if (fit._tag === "Refused")
          return yield* new DomainRootError({
            reason: "Refused",
            message: `The CA your IRP relayed for ${domain} is refused: ${fit.message}.`
          })
        const now = clock.unsafeCurrentTimeMillis()
        const result = yield* Effect.mapError(
          store.observeDomainRoot({
            domain,
            root: presented(root),
            now,
            acceptChange: options.strictKeys !== true
          }),
          storage
        )
        if (result._tag === "New")
          yield* Effect.logInfo(`agent: pinned the CA of ${domain} (${presented(root).fingerprint}) on first use`)
        return result
      })

    const pinned = (domain: DomainName) => Effect.mapError(store.domainPin(domain), storage)

    const rootFor = (domain: DomainName): Effect.Effect<Uint8Array, DomainRootError> =>
      Effect.gen(function* () {
        const pin = yield* pinned(domain)
        if (pin !== undefined) {
          if (pin.pendingChange !== null) return yield* held(domain)
          return decodeBase64(pin.root)
        }
        const failed = failures.get(domain)
        if (failed !== undefined && clock.unsafeCurrentTimeMillis() - failed.at < FAILURE_HOLD_MS)
          return yield* failed.error
        const info = yield* fetchInfo(domain).pipe(
          Effect.tapError((error) =>
            Effect.sync(() => remember(failures, domain, { at: clock.unsafeCurrentTimeMillis(), error }))
          )
        )
        failures.delete(domain)
        const result = yield* observe(domain, info)
        if (result._tag === "Changed" && !result.accepted) return yield* held(domain)
        remember(lastRefresh, domain, clock.unsafeCurrentTimeMillis())
        return info.root
      })

    const refresh = (domain: DomainName): Effect.Effect<Uint8Array | undefined, DomainRootError> =>
      Effect.gen(function* () {
        const now = clock.unsafeCurrentTimeMillis()
        const last = lastRefresh.get(domain)
        if (last !== undefined && now - last < refreshMs) return undefined
        remember(lastRefresh, domain, now)
        const info = yield* fetchInfo(domain)
        const result = yield* observe(domain, info)
        if (result._tag !== "Changed") return undefined
        if (!result.accepted) return yield* held(domain)
        return info.root
      })

    const report = (domain: DomainName) =>
      Effect.gen(function* () {
        const info = yield* fetchInfo(domain)
        failures.delete(domain)
        const observed = yield* observe(domain, info)
        return { domain, policy: info.policy, pin: yield* pinned(domain), observed }
      })

    const trust = (domain: DomainName) =>
      Effect.mapError(store.acceptDomainRoot({ domain, now: clock.unsafeCurrentTimeMillis() }), (e) =>
        e.reason === "NotFound" || e.reason === "NoKeyChange"
          ? new DomainRootError({ reason: "NotFound", message: e.message, cause: e })
          : storage(e)
      )

    return DomainRoots.of({ pinned, observe, rootFor, refresh, report, trust } satisfies DomainRootsService)
  })

export const layer = (options: DomainRootsOptions = {}): Layer.Layer<DomainRoots, never, IrpConnection | AgentStore> =>
  Layer.effect(DomainRoots, make(options))
