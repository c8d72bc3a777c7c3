/**
 * What a certificate says about who holds it (PROTOCOL.md §13). Pure.
 *
 * A client certificate names its handle in SAN rfc822Name (and CN); when it has no SAN
 * rfc822Name, a CN that is a handle stands in. Handles are lower-case (the `Handle` schema), so
 * names are compared and returned lower-cased. An IRP server certificate names its host in SAN
 * dNSName, compared case-insensitively and exactly (no wildcards: a domain's CA issues the
 * server's exact name).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Schema } from "effect"
import { type Fingerprint, Handle } from "../brands.js"
import { hex } from "../bytes.js"
import { AttributeType, attributeTexts } from "./names.js"
import { type ParsedCertificate, parseCertificate } from "./parse.js"

const isHandle = Schema.is(Handle)

/** Candidate handles of a certificate, lower-cased: SAN rfc822Names, else CNs that contain `@`. */
export const handleCandidates = (cert: ParsedCertificate): Array<string> => {
  const emails: Array<string> = []
  for (const n of cert.extensions.subjectAltName ?? []) if (n.type === "rfc822") emails.push(n.value.toLowerCase())
  if (emails.length > 0) return emails
  return attributeTexts(cert.subject, AttributeType.commonName)
    .filter((cn) => cn.includes("@"))
    .map((cn) => cn.toLowerCase())
}

/** The certificate's handle: the first candidate that is a valid `Handle`. */
export const handleOf = (cert: ParsedCertificate): Handle | undefined => handleCandidates(cert).find(isHandle)

/** SAN dNSName entries, lower-cased, without a trailing dot. */
export const dnsNamesOf = (cert: ParsedCertificate): Array<string> => {
  const out: Array<string> = []
  for (const n of cert.extensions.subjectAltName ?? [])
    if (n.type === "dns") out.push(n.value.toLowerCase().replace(/\.$/, ""))
  return out
}

export const normaliseDnsName = (name: string): string => name.toLowerCase().replace(/\.$/, "")

export interface CertificateIdentity {
  readonly handle: Handle | undefined
  readonly dnsNames: ReadonlyArray<string>
  /** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex (what peers pin, PROTOCOL.md §13). */
  readonly fingerprint: Fingerprint
  readonly spki: Uint8Array
  /** Lower-case hex, no leading zeros. */
  readonly serial: string
  readonly notBefore: Date
  readonly notAfter: Date
}

export const spkiFingerprint = (spki: Uint8Array): Fingerprint => hex(sha256(spki)) as Fingerprint

/**
 * Identity of one DER certificate, without verifying anything: for one's OWN certificate (to
 * refuse a reflected one, PROTOCOL.md §6) or for display. `undefined` when it does not parse.
 */
export const certificateIdentity = (der: Uint8Array): CertificateIdentity | undefined => {
  const parsed = parseCertificate(der)
  if (parsed._tag !== "Parsed") return undefined
  const cert = parsed.certificate
  return {
    handle: handleOf(cert),
    dnsNames: dnsNamesOf(cert),
    fingerprint: spkiFingerprint(cert.spki),
    spki: cert.spki.slice(),
    serial: cert.serial,
    notBefore: new Date(cert.notBefore),
    notAfter: new Date(cert.notAfter)
  }
}
