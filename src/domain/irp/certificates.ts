/**
 * What the IRP's certificate authority keeps about each certificate it issued (PROTOCOL.md §§13 and 17:
 * `Status`, `Crl`, `Revoke`). Pure schemas; times are epoch milliseconds.
 */
import { Schema } from "effect"
import { Fingerprint, Handle } from "../brands.js"
import { RevocationReason } from "../pki/crl.js"

/** The one revocation vocabulary (`../pki/crl.ts`), as the IRP messages spell it. */
export { RevocationReason }

/**
 * A certificate serial number as lower-case hex without leading zeros (how `VerifiedCertificate.serial`
 * spells it); RFC 5280 section 4.1.2.2 caps serials at 20 octets.
 */
export const SerialHex = Schema.String.pipe(Schema.pattern(/^(?:0|[1-9a-f][0-9a-f]{0,39})$/), Schema.brand("SerialHex"))
export type SerialHex = typeof SerialHex.Type

export const CertificateStatus = Schema.Literal("good", "revoked")
export type CertificateStatus = typeof CertificateStatus.Type

/** One issued certificate. `revokedAt` and `reason` are set exactly when `status` is `revoked`. */
export const CertificateRecord = Schema.Struct({
  serial: SerialHex,
  handle: Handle,
  /** SHA-256 of the SubjectPublicKeyInfo (PROTOCOL.md §13: what peers pin). */
  fingerprint: Fingerprint,
  der: Schema.Uint8ArrayFromSelf,
  notBefore: Schema.Number,
  notAfter: Schema.Number,
  status: CertificateStatus,
  revokedAt: Schema.optional(Schema.Number),
  reason: Schema.optional(RevocationReason)
})
export type CertificateRecord = typeof CertificateRecord.Type

/** A `Status` answer (PROTOCOL.md §17): `unknown` when this CA never issued the serial. */
export type StatusAnswer =
  | { readonly serial: SerialHex; readonly status: "good" }
  | {
      readonly serial: SerialHex
      readonly status: "revoked"
      readonly revokedAt: number
      readonly reason: RevocationReason
    }
  | { readonly serial: SerialHex; readonly status: "unknown" }

/** One entry of the CRL (RFC 5280 section 5.1.2.6). */
export interface RevokedEntry {
  readonly serial: SerialHex
  readonly handle: Handle
  readonly revokedAt: number
  readonly reason: RevocationReason
}
