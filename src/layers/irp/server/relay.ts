/**
 * Cross-domain requests of this domain's users (PROTOCOL.md §22.4): a `Lookup` of a foreign handle, a
 * `Status` or `DomainInfo` with `domain=` naming another domain, go to the `Federation` service, which
 * holds the federation sessions and their bounds (§22.6). Here: whether this server relays to that
 * domain at all (it has a `Federation` service, and its own policy permits the domain, §22.5), and how
 * the service's answers and failures become IRP answers.
 */
import { Effect } from "effect"
import { type Handle, handleDomain } from "../../../domain/brands.js"
import { normalizeDomain } from "../../../domain/federation/discovery.js"
import { permits } from "../../../domain/federation/policy.js"
import type { IrpRequest, IrpServerInbound, IrpServerMessage } from "../../../domain/irp/messages.js"
import type { FederationError } from "../../../services/Federation.js"
import type { ServerContext } from "./context.js"
import { Refused } from "./refusals.js"

type Answers = ReadonlyArray<IrpServerMessage>
type RelayContext = Pick<ServerContext, "domain" | "federationPolicy" | "relay">

/**
 * Why a request for `domain` is not relayed, or `undefined` when it is: no `Federation` service, a
 * policy that does not permit the domain (§22.5: "it relays for its users only to permitted domains").
 */
export const relayRefusal = (ctx: RelayContext, domain: string): Refused | undefined => {
  if (ctx.federationPolicy.mode === "closed")
    return new Refused({
      code: "federation_refused",
      message: `${ctx.domain} does not federate: its IRP relays no request to ${domain}.`
    })
  if (ctx.relay === undefined)
    return new Refused({
      code: "federation_refused",
      message: `${ctx.domain} does not relay requests to ${domain}: its IRP has no public certificate to federate with.`
    })
  if (!permits(ctx.federationPolicy, domain))
    return new Refused({ code: "federation_refused", message: `${ctx.domain} does not federate with ${domain}.` })
  return undefined
}

/** The domain of a foreign handle as §21.1 writes it; `undefined` for a handle whose domain is no DNS name. */
export const foreignDomain = (handle: Handle): string | undefined => {
  const domain = handleDomain(handle)
  return normalizeDomain(domain) === domain ? domain : undefined
}

/** Whether a request goes to another domain (served in a fiber of its own: it may take up to 5 s, §22.6). */
export const isRelayed = (ctx: RelayContext, r: IrpServerInbound): boolean => {
  if (ctx.relay === undefined) return false
  switch (r._tag) {
    case "irp.Lookup":
      return handleDomain(r.handle) !== ctx.domain
    case "irp.Status":
    case "irp.DomainInfo":
      return r.domain !== undefined && r.domain !== ctx.domain
    case "irp.Watch":
      return r.handles.some((h) => handleDomain(h) !== ctx.domain)
    default:
      return false
  }
}

/** A `FederationError` as the answer to the User Agent (its sentence names the domain). */
export const fromFederation = (e: FederationError): Refused =>
  new Refused({
    code:
      e.reason === "Refused" ? "federation_refused" : e.reason === "NotFound" ? "not_found" : "federation_unavailable",
    message: e.message
  })

type LookupRequest = Extract<IrpRequest, { readonly _tag: "irp.Lookup" }>
type StatusRequest = Extract<IrpRequest, { readonly _tag: "irp.Status" }>
type DomainInfoRequest = Extract<IrpRequest, { readonly _tag: "irp.DomainInfo" }>

const checked = (ctx: RelayContext, domain: string | undefined, what: string) => {
  if (domain === undefined)
    return Effect.fail(new Refused({ code: "not_found", message: `${what} names no domain an IRP can serve.` }))
  const refusal = relayRefusal(ctx, domain)
  return refusal === undefined ? Effect.succeed(ctx.relay!) : Effect.fail(refusal)
}

/** `Lookup` of a foreign handle: its `LookupResult` with that domain's root in `<DomainCa>` (§22.3.3). */
export const relayLookup = (ctx: RelayContext, request: LookupRequest): Effect.Effect<Answers, Refused> =>
  Effect.flatMap(checked(ctx, foreignDomain(request.handle), request.handle), (federation) =>
    federation.lookup(request.handle).pipe(
      Effect.map(
        (found): Answers => [
          {
            _tag: "irp.LookupResult",
            id: request.id,
            handle: request.handle,
            status: found.status,
            chain: found.chain,
            bindings: found.bindings,
            ...(found.domainRoot === undefined ? {} : { domainCa: found.domainRoot.root })
          }
        ]
      ),
      // The foreign IRP does not know the handle: as at home, an unknown identity.
      Effect.catchIf(
        (e) => e.reason === "NotFound",
        (): Effect.Effect<Answers> =>
          Effect.succeed([
            {
              _tag: "irp.LookupResult",
              id: request.id,
              handle: request.handle,
              status: "unknown",
              chain: [],
              bindings: []
            }
          ])
      ),
      Effect.mapError(fromFederation)
    )
  )

/** `Status domain=D`: D's answer, its staple included when asked (the UA verifies it under D's chain). */
export const relayStatus = (ctx: RelayContext, request: StatusRequest): Effect.Effect<Answers, Refused> =>
  Effect.flatMap(checked(ctx, request.domain, `domain ${request.domain}`), (federation) =>
    federation.status(request.domain!, request.serial, { staple: request.staple === true }).pipe(
      Effect.map((s): Answers => {
        const base = { _tag: "irp.StatusResult" as const, id: request.id, serial: request.serial }
        if (s.status === "revoked")
          return [{ ...base, status: "revoked", revokedAt: s.revokedAt ?? 0, reason: s.reason ?? "unspecified" }]
        if (s.status === "good")
          return [{ ...base, status: "good", ...(s.staple === undefined ? {} : { staple: s.staple }) }]
        return [{ ...base, status: "unknown" }]
      }),
      Effect.mapError(fromFederation)
    )
  )

/** `DomainInfo domain=D`: D's `DomainInfoResult`, fetched over an authenticated federation session. */
export const relayDomainInfo = (ctx: RelayContext, request: DomainInfoRequest): Effect.Effect<Answers, Refused> =>
  Effect.flatMap(checked(ctx, request.domain, `domain ${request.domain}`), (federation) =>
    federation.domainInfo(request.domain!).pipe(
      Effect.map(
        (info): Answers => [
          { _tag: "irp.DomainInfoResult", id: request.id, domain: info.domain, policy: info.policy, root: info.root }
        ]
      ),
      Effect.mapError(fromFederation)
    )
  )
