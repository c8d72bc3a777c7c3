/**
 * Who may send which IRP request (PROTOCOL.md §17, the table), as a pure function of the request and
 * the caller the handshake established. Revocation and expiry of a holder's certificate after the
 * handshake are checked by the server against its live state before this table is consulted.
 */
import { type Address, type Handle, handleDomain } from "../brands.js"
import { type FederationPolicy, permits } from "../federation/policy.js"
import type { SerialHex } from "./certificates.js"
import type { ErrorCode, IrpRequest, IrpRequestTag } from "./messages.js"

/** The other end of a connection, as proved by the handshake (PROTOCOL.md §17: anonymous only for enrolment). */
export type Caller =
  | { readonly _tag: "Anonymous"; readonly source: Address }
  | {
      readonly _tag: "Holder"
      readonly source: Address
      readonly handle: Handle
      readonly serial: SerialHex
      /** Epoch ms: the end of the certificate's validity. */
      readonly notAfter: number
    }
  /**
   * Another domain's IRP (PROTOCOL.md §22.2.5): its public chain verified under the public anchors, for
   * serverAuth, naming `irp.<domain>`; `domain` is never this server's own.
   */
  | {
      readonly _tag: "Federation"
      readonly source: Address
      readonly domain: string
      /** Epoch ms: the end of the public certificate's validity. */
      readonly notAfter: number
    }

export interface AccessPolicy {
  /** PROTOCOL.md §17.3.1: "Lookup — authenticated; anonymous too when the server's policy allows it". Default false. */
  readonly allowAnonymousLookup: boolean
}

export interface Refusal {
  readonly code: ErrorCode
  readonly message: string
}

const ANYONE = new Set<IrpRequestTag>(["irp.Status", "irp.Crl", "irp.Ping", "irp.DomainInfo"])

/** `undefined` when the table allows the request; otherwise the refusal to answer with. */
export const authorize = (tag: IrpRequestTag, caller: Caller, policy: AccessPolicy): Refusal | undefined => {
  if (caller._tag === "Federation")
    return FEDERATED.has(tag)
      ? undefined
      : {
          code: "forbidden",
          message: `${tag.slice(4)} is not for another domain's IRP (${caller.domain}): it may ask only DomainInfo, Lookup, Status, Watch, Unwatch and Ping.`
        }
  if (ANYONE.has(tag)) return undefined
  if (tag === "irp.Enroll")
    return caller._tag === "Anonymous"
      ? undefined
      : {
          code: "forbidden",
          message: `This connection is already authenticated as ${callerName(caller)}: enrol a new identity on a connection without a certificate, or use Renew for a new certificate.`
        }
  if (caller._tag === "Holder") return undefined
  if (tag === "irp.Lookup" && policy.allowAnonymousLookup) return undefined
  return {
    code: "unauthorized",
    message: `${tag.slice(4)} needs an enrolled identity: connect with your certificate (enrol first with a token from the operator).`
  }
}

/** PROTOCOL.md §22.2.5: what a federation caller may send. */
const FEDERATED = new Set<IrpRequestTag>([
  "irp.DomainInfo",
  "irp.Lookup",
  "irp.Status",
  "irp.Watch",
  "irp.Unwatch",
  "irp.Ping"
])

type FederationCaller = Extract<Caller, { readonly _tag: "Federation" }>

/**
 * The checks on a federation caller's request beyond the table (PROTOCOL.md §22.2.5, §22.5): this
 * domain's policy must accept that domain, and the request must be about this domain alone (no relaying
 * on: no `domain=` naming another domain, no handle of another domain). `undefined`: allowed.
 */
export const authorizeFederated = (
  request: IrpRequest,
  caller: FederationCaller,
  ownDomain: string,
  policy: FederationPolicy
): Refusal | undefined => {
  if (!permits(policy, caller.domain))
    return {
      code: "federation_refused",
      message: `${ownDomain} does not accept federation from ${caller.domain}.`
    }
  const forbidden = (what: string): Refusal => ({
    code: "forbidden",
    message: `Another domain's IRP may ask ${ownDomain} only about ${ownDomain}, not about ${what}.`
  })
  switch (request._tag) {
    case "irp.DomainInfo":
    case "irp.Status":
      return request.domain !== undefined && request.domain !== ownDomain ? forbidden(request.domain) : undefined
    case "irp.Lookup":
      return handleDomain(request.handle) === ownDomain ? undefined : forbidden(request.handle)
    case "irp.Watch":
    case "irp.Unwatch": {
      const foreign = request.handles.find((h) => handleDomain(h) !== ownDomain)
      return foreign === undefined ? undefined : forbidden(foreign)
    }
    default:
      return undefined
  }
}

/** How a caller is named in logs and rate-limit keys: a handle, `irp.<domain>` for another domain's IRP, or `anonymous`. */
export const callerName = (caller: Caller): string =>
  caller._tag === "Holder" ? caller.handle : caller._tag === "Federation" ? `irp.${caller.domain}` : "anonymous"
