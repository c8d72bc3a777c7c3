/**
 * What certificate verification takes and proves (PROTOCOL.md §13). Pure types; the checks run in
 * `layers/CertVerifierLive` (pkijs + asn1js).
 */
import { Data } from "effect"
import type { Fingerprint, Handle } from "../brands.js"

/** `client-auth`: EKU clientAuth required when an EKU is present; `server-auth` likewise serverAuth; `any`: no EKU check. */
export type Purpose = "client-auth" | "server-auth" | "any"

/** One reason per rejection, so callers and tests can tell them apart. */
export type CertRejection =
  | "Malformed" // not DER X.509, or a field we must read is unreadable
  | "UnknownIssuer" // no path to a configured trust anchor
  | "BadSignature" // a signature in the chain does not verify
  | "UnsupportedAlgorithm" // signature / key algorithm we do not implement
  | "Expired" // now > notAfter for some certificate
  | "NotYetValid" // now < notBefore for some certificate
  | "NotCA" // an issuer lacks basicConstraints cA=TRUE
  | "MissingKeyCertSign" // an issuer's keyUsage lacks keyCertSign
  | "PathLenExceeded" // an issuer's pathLenConstraint is exceeded
  | "ChainTooLong" // more intermediates than allowed
  | "MissingDigitalSignature" // the leaf's keyUsage lacks digitalSignature
  | "WrongPurpose" // the leaf's EKU lacks the required purpose
  | "UnknownCriticalExtension" // a critical extension we do not process
  | "NameConstraintViolation" // a name outside an issuer's permitted / inside its excluded subtrees
  | "Revoked" // the revocation source says so
  | "IdentityMismatch" // the leaf does not name the expected handle / DNS name
  | "NonConforming" // breaks an RFC 5280 section 4 rule a conforming path validation enforces (PROTOCOL.md §13.7)
  | "InvalidName" // a subjectAltName entry or a name constraint that is not a well-formed name
  | "LimitExceeded" // a certificate over the size limit, or a chain that needs more work than the verifier allows

export class CertError extends Data.TaggedError("CertError")<{
  readonly reason: CertRejection
  /** One sentence, fit for a log line or stderr. */
  readonly message: string
  /** Position in the built path (0 = leaf) when the failure is about one certificate. */
  readonly depth?: number | undefined
}> {}

export interface VerifyRequest {
  /** DER certificates: the leaf first, then any untrusted intermediates in any order. */
  readonly chain: ReadonlyArray<Uint8Array>
  readonly purpose: Purpose
  /** Check time; the verifier reads the Effect `Clock` when absent. Truncated to whole seconds. */
  readonly at?: Date | undefined
  /** When set, the leaf must carry this handle (SAN rfc822Name, or CN when it has no SAN). */
  readonly expectedHandle?: Handle | undefined
  /** When set, the leaf must carry this DNS name in SAN dNSName (IRP server certificates). */
  readonly expectedDnsName?: string | undefined
  /** Maximum number of intermediates, self-issued ones not counted (default 3: a chain at most 4 deep + anchor). */
  readonly maxIntermediates?: number | undefined
}

/** What a verified chain tells about its leaf. */
export interface VerifiedFields {
  /** The leaf's handle (SAN rfc822Name, or CN), when it names one. */
  readonly handle: Handle | undefined
  /** The leaf's SAN dNSName entries. */
  readonly dnsNames: ReadonlyArray<string>
  /** SHA-256 of the leaf's SubjectPublicKeyInfo, hex. */
  readonly fingerprint: Fingerprint
  /** The leaf's SubjectPublicKeyInfo DER (to check CertificateVerify). */
  readonly spki: Uint8Array
  /** The leaf's serial number, lower-case hex without leading zeros. */
  readonly serial: string
  readonly notAfter: Date
  /** The path that was built, leaf first, ending with the trust anchor. */
  readonly path: ReadonlyArray<Uint8Array>
}

/**
 * Proof that a chain was verified (rustls's `ServerCertVerified`): the handshake's `AwaitCertificateVerify`
 * can only be built from one. The class is not exported, only its type, and its ES-private brand makes the
 * type nominal: an object literal with the same fields is not a `VerifiedCertificate`. The one way to get
 * one is `certifyVerified`, which only a CertVerifier implementation calls (`layers/CertVerifierLive`) and
 * which the package does not export: a mock verifier delegates to `CertVerifierLive` (the test kit's PKI
 * makes that easy) rather than forging proofs.
 */
class Verified implements VerifiedFields {
  readonly _tag = "VerifiedCertificate" as const
  readonly #verified = true
  readonly handle: Handle | undefined
  readonly dnsNames: ReadonlyArray<string>
  readonly fingerprint: Fingerprint
  readonly spki: Uint8Array
  readonly serial: string
  readonly notAfter: Date
  readonly path: ReadonlyArray<Uint8Array>
  constructor(fields: VerifiedFields) {
    this.handle = fields.handle
    this.dnsNames = fields.dnsNames
    this.fingerprint = fields.fingerprint
    this.spki = fields.spki
    this.serial = fields.serial
    this.notAfter = fields.notAfter
    this.path = fields.path
  }
  /** True for every instance: the brand only the class can carry. */
  static is(u: unknown): u is Verified {
    return typeof u === "object" && u !== null && #verified in u
  }
}

export type VerifiedCertificate = Verified

/** For CertVerifier implementations only, once every check of PROTOCOL.md §13 passed (not exported by the package). */
export const certifyVerified = (fields: VerifiedFields): VerifiedCertificate => new Verified(fields)

/** Whether `u` is a proof made by `certifyVerified` (a look-alike object is not). */
export const isVerifiedCertificate = (u: unknown): u is VerifiedCertificate => Verified.is(u)

/** Where revocation answers come from (the IRP's Status / CRL). `good` when it does not know. */
export interface RevocationSource {
  readonly isRevoked: (issuerDer: Uint8Array, serialHex: string) => boolean
}
