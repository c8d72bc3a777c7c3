/**
 * CertificateAuthority: the online certificate authority of an IRP server (issue 3 section 1, PROTOCOL.md
 * §13): issues client certificates, CRLs and stapled statuses. Implemented by `layers/ca/CertificateAuthority.ts`.
 */
import { Context, type Effect } from "effect"
import type { Handle } from "../domain/brands.js"
import type { CrlEntry } from "../domain/pki/crl.js"
import type { CaError } from "../domain/pki/errors.js"

/** A freshly issued end-entity certificate. */
export interface IssuedCertificate {
  /** DER, leaf first, then the issuing CA: what a holder presents. */
  readonly chain: ReadonlyArray<Uint8Array>
  /** Lower-case hex, no leading zeros (as `VerifiedCertificate.serial`). */
  readonly serial: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** The subject's SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array
}

export interface CertificateAuthorityService {
  readonly domain: string
  /** The root certificate (DER) clients trust. */
  readonly trustAnchor: Uint8Array
  /** Checks the CSR (`verifyCsr`) and issues a client certificate for `handle`; chain = [leaf, issuing CA]. */
  readonly issueClient: (csrDer: Uint8Array, handle: Handle) => Effect.Effect<IssuedCertificate, CaError>
  /** A CRL valid from now for the configured number of hours, signed by the issuing CA. */
  readonly crl: (entries: ReadonlyArray<CrlEntry>, crlNumber: bigint) => Effect.Effect<Uint8Array, CaError>
  /**
   * The stapled status of PROTOCOL.md §13.6.1 for a certificate the caller found good: "serial of
   * handle is good from now until now + stapleLifetimeSeconds" (never past the certificate's notAfter).
   */
  readonly signStatus: (input: {
    readonly serial: string
    readonly handle: Handle
    readonly notAfter: number
  }) => Effect.Effect<Uint8Array>
}

export class CertificateAuthority extends Context.Tag("sixchat/CertificateAuthority")<
  CertificateAuthority,
  CertificateAuthorityService
>() {}
