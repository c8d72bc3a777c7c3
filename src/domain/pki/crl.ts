/**
 * Revocation vocabulary (RFC 5280 section 5.3.1) shared by the CA, the IRP `Revoke` / `Status`
 * answers and the CRL. Pure.
 */
import { Schema } from "effect"

/**
 * Why a certificate was revoked: the RFC 5280 section 5.3.1 CRLReason names. `certificateHold` and
 * `removeFromCRL` are left out on purpose: a revocation here is final.
 */
export const RevocationReason = Schema.Literal(
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "aACompromise"
)
export type RevocationReason = typeof RevocationReason.Type

/** The CRLReason ENUMERATED code of each reason (RFC 5280 section 5.3.1), for the CRL entry extension. */
export const revocationReasonCode: Readonly<Record<RevocationReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
  aACompromise: 10
}

export interface CrlEntry {
  /** The revoked certificate's serial, lower-case hex (as `VerifiedCertificate.serial`). */
  readonly serial: string
  readonly revokedAt: Date
  /** Omitted, or `unspecified`, leaves the entry without a reasonCode (RFC 5280 5.3.1 SHOULD). */
  readonly reason?: RevocationReason | undefined
}
