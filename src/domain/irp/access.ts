/**
 * Who may send which IRP request (PROTOCOL.md §17, the table), as a pure function of the request and
 * the caller the handshake established. Revocation and expiry of a holder's certificate after the
 * handshake are checked by the server against its live state before this table is consulted.
 */
import type { Address, Handle } from "../brands.js"
import type { SerialHex } from "./certificates.js"
import type { ErrorCode, IrpRequestTag } from "./messages.js"

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
  if (ANYONE.has(tag)) return undefined
  if (tag === "irp.Enroll")
    return caller._tag === "Anonymous"
      ? undefined
      : {
          code: "forbidden",
          message: `This connection is already authenticated as ${caller.handle}: enrol a new identity on a connection without a certificate, or use Renew for a new certificate.`
        }
  if (caller._tag === "Holder") return undefined
  if (tag === "irp.Lookup" && policy.allowAnonymousLookup) return undefined
  return {
    code: "unauthorized",
    message: `${tag.slice(4)} needs an enrolled identity: connect with your certificate (enrol first with a token from the operator).`
  }
}

/** How a caller is named in logs and rate-limit keys. */
export const callerName = (caller: Caller): string => (caller._tag === "Holder" ? caller.handle : "anonymous")
