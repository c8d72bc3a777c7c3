/**
 * `irp serve`'s side of federation (PROTOCOL.md §22): when the domain has a public chain (§22.2.1) and
 * its policy is not `closed` (§22.5), the `Federation` service that relays its users' requests to other
 * domains' IRPs, found through DNS (§21: `--dns` / `SIXCHAT_DNS`, else the system's resolvers) and
 * authenticated under the public anchors (§22.2.4: Node's roots plus `SIXCHAT_EXTRA_ROOTS`). Each relayed
 * request is a line of the request log naming the foreign domain (§22.6).
 */
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { parseDnsServer } from "../domain/federation/discovery.js"
import type { LoadedDomain } from "../layers/ca/DomainDirectory.js"
import * as DnsResolverLive from "../layers/federation/DnsResolverLive.js"
import * as FederationLive from "../layers/federation/FederationLive.js"
import type { DomainResolver } from "../services/DomainResolver.js"
import { Federation } from "../services/Federation.js"
import { IrpServerError } from "../services/IrpServer.js"
import { RequestLog } from "../services/RequestLog.js"
import { usage } from "./failure.js"

/** `--dns IP:PORT`, checked. */
export const checkDnsServer = (dns: Option.Option<string>) =>
  Effect.gen(function* () {
    const server = Option.getOrUndefined(dns)
    if (server !== undefined && parseDnsServer(server) === undefined)
      return yield* usage(`--dns "${server}" is not IP:PORT; write it as 127.0.0.1:53 or [::1]:53`)
    return server
  })

/**
 * Provides `Federation` to `effect` when this domain federates; otherwise runs it without (then every
 * request for another domain is refused `federation_refused`, §22.5).
 */
export const withFederation = <A, E, R>(
  domain: LoadedDomain,
  dnsServer: string | undefined,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | IrpServerError,
  R | RequestLog | Scope.Scope | Exclude<FederationLive.FederationRequirements, DomainResolver>
> =>
  Effect.gen(function* () {
    const publicIdentity = domain.publicIdentity
    if (publicIdentity === undefined || domain.config.federation.mode === "closed") return yield* effect
    const log = yield* RequestLog
    const federation = FederationLive.layer({
      domain: domain.config.domain,
      policy: domain.config.federation,
      identity: { pkcs8: publicIdentity.pkcs8, chain: publicIdentity.chain },
      onRequest: (r) =>
        Effect.sync(() =>
          log.write({
            peer: `relay:irp.${r.domain}`,
            remote: r.domain,
            request: r.request,
            id: "-",
            outcome: r.outcome === "ok" ? "ok" : `federation_${r.outcome.toLowerCase()}`,
            ms: r.ms
          })
        )
    }).pipe(
      Layer.provide(DnsResolverLive.layer({ server: dnsServer })),
      Layer.mapError(
        (e) => new IrpServerError({ reason: "Federation", message: `Federation cannot start: ${e.message}`, cause: e })
      )
    )
    const relay = Context.get(yield* Layer.build(federation), Federation)
    return yield* Effect.provideService(effect, Federation, relay)
  })
