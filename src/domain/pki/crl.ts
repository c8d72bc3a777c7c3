/**
 * Revocation vocabulary (RFC 5280 section 5.3.1) shared by the CA, the IRP `Revoke` / `Status`
 * answers and the CRL. Pure.
 */
import { Schema } from "effect"

export const RevocationReason = Schema.Literal(
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "removeFromCRL",
  "privilegeWithdrawn",
  "aACompromise"
)
export type RevocationReason = typeof RevocationReason.Type

/** CRLReason ENUMERATED codes (7 is unused by RFC 5280). */
export const revocationReasonCode: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
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
