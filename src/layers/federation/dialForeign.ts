/**
 * Opening a federation session to the IRP of a foreign domain D (PROTOCOL.md §21, §22.2): discover D's
 * targets, try their addresses in order (each target's AAAA, then A) within one budget for connect,
 * handshake and the first `DomainInfo` (§22.6: 5 s), authenticate the server under the public anchors
 * as `irp.D` (always `irp.D`, never the SRV target's name, §22.2.2) while presenting our own public
 * chain (§22.2.5), and learn D's root from its `DomainInfo` (§22.3.1: the client refuses an answer for
 * another domain and a root that cannot vouch for D alone).
 */
import { type Cause, Clock, Duration, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import { formatAddress, makeAddress } from "../../domain/brands.js"
import type { DomainResolverService } from "../../services/DomainResolver.js"
import type { FederationError } from "../../services/Federation.js"
import {
  type DomainInfoRecord,
  type IrpClient,
  IrpClientError,
  type IrpClientsService
} from "../../services/IrpClient.js"
import { fromClientError, fromDiscoveryError } from "./federationErrors.js"

export interface DialParams {
  readonly domain: string
  readonly resolver: DomainResolverService
  /** An `IrpClients` whose verifier holds the public anchors. */
  readonly clients: IrpClientsService
  /** Our public chain for `irp.<our domain>`, presented as client certificate. */
  readonly identity: { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> }
  /** For every address tried, together. */
  readonly connectTimeout: Duration.Duration
  readonly requestTimeout: Duration.Duration
  readonly keepAlive?: Duration.DurationInput | undefined
}

export interface Dialled {
  readonly client: IrpClient
  readonly info: DomainInfoRecord
  /** Where the session went, for logs. */
  readonly address: string
}

/** Dials D's IRP; the session lives in `scope` (a failed attempt's resources are released at once). */
export const dialForeign = (params: DialParams, scope: Scope.Scope): Effect.Effect<Dialled, FederationError> =>
  Effect.gen(function* () {
    const { domain } = params
    const found = yield* Effect.mapError(params.resolver.discover(domain), (e) => fromDiscoveryError(domain, e))
    const addresses = found.targets.flatMap((t) => t.addresses.map((a) => makeAddress(a, t.port)))
    const budget = Duration.toMillis(params.connectTimeout)
    const deadline = (yield* Clock.currentTimeMillis) + budget
    const failures: Array<string> = []
    for (const address of addresses) {
      const left = deadline - (yield* Clock.currentTimeMillis)
      if (left <= 0) break
      const attempt = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const result = yield* params.clients
        .connect({
          address,
          serverName: `irp.${domain}`,
          identity: params.identity,
          publicChain: true,
          connectTimeout: Duration.millis(left),
          requestTimeout: params.requestTimeout,
          ...(params.keepAlive === undefined ? {} : { keepAlive: params.keepAlive })
        })
        .pipe(
          // DomainInfo is part of opening the session: it counts in the same budget.
          Effect.flatMap((client) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              client.domainInfo(domain).pipe(
                Effect.timeoutFail({
                  duration: Duration.millis(Math.max(1, deadline - now)),
                  onTimeout: () =>
                    new IrpClientError({
                      reason: "Timeout",
                      message: `the IRP server irp.${domain} at ${formatAddress(address)} did not answer DomainInfo within the ${budget / 1000} s to open a session`
                    })
                }),
                Effect.map((info) => ({ client, info }))
              )
            )
          ),
          Scope.extend(attempt),
          Effect.exit
        )
      if (Exit.isSuccess(result)) return { ...result.value, address: formatAddress(address) }
      yield* Scope.close(attempt, Exit.void)
      const cause = result.cause
      const error = cause._tag === "Fail" ? cause.error : undefined
      // The first refusal that is an answer (not a failure to connect) is the foreign IRP's word.
      if (error !== undefined && (error.reason === "federation_refused" || error.reason === "unauthorized"))
        return yield* Effect.fail(fromClientError(domain, error))
      if (error === undefined) return yield* Effect.failCause(cause as Cause.Cause<never>)
      failures.push(error.message)
      if (error.reason === "WrongDomain" || error.reason === "DomainRootRefused")
        return yield* Effect.fail(fromClientError(domain, error))
    }
    const detail =
      addresses.length === 0
        ? "discovery gave no address"
        : failures.length === 0
          ? `no address answered within ${budget / 1000} s`
          : failures.length < addresses.length
            ? `${failures.join("; ")}; and no other address answered within ${budget / 1000} s`
            : failures.join("; ")
    return yield* Effect.fail(fromClientError(domain, new IrpClientError({ reason: "Unreachable", message: detail })))
  })
