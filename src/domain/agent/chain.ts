/**
 * What a contact's pin records of a verified chain (PROTOCOL.md section 13.5): the leaf's SPKI
 * fingerprint, the issuing CA's id (SHA-256 of the SPKI of the certificate that signed the leaf,
 * hex), the leaf's SPKI DER (base64, for the safety number of section 10.1) and its serial. Pure.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { hex } from "../bytes.js"
import { parseCertificate } from "../cert/parse.js"
import type { VerifiedCertificate } from "../cert/verify.js"
import { base64Encode } from "../xml/values.js"
import type { IssuerId } from "./contacts.js"

/**
 * The issuing CA's id: the SPKI of `path[1]` (the path is leaf first and ends with the anchor, so a
 * leaf signed by the anchor itself names the anchor). `""` for a path of one certificate.
 */
const issuerIdOf = (path: ReadonlyArray<Uint8Array>): IssuerId => {
  const issuer = path[1]
  if (issuer === undefined) return ""
  const parsed = parseCertificate(issuer)
  return parsed._tag === "Parsed" ? hex(sha256(parsed.certificate.spki)) : ""
}

/** The chain facts the store keeps with a pin. */
export const chainOf = (certificate: VerifiedCertificate) => ({
  issuer: issuerIdOf(certificate.path),
  spki: base64Encode(certificate.spki),
  serial: certificate.serial
})
