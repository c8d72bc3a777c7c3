/**
 * The RFC 5280 section 4 rules a certificate in a path must meet besides the section 6 checks
 * (PROTOCOL.md §13.7). Pure. Each rule is a MUST on the issuing CA that OpenSSL's strict mode or
 * webpki (or both) enforce; a certificate that breaks one was not issued by a conforming CA, so
 * what it asserts cannot be relied on.
 *
 * The trust anchor is held to the same rules, with one exception the RFC makes: a self-signed
 * anchor need not carry an authority key identifier (4.2.1.1). A v1 anchor (no extensions) is
 * accepted as configured, as before.
 */
import { bytesEqual } from "./der.js"
import { ExtensionId, KeyUsageBit } from "./extensions.js"
import { describeGeneralName } from "./nameConstraints.js"
import { isWellFormedConstraint, isWellFormedName } from "./nameSyntax.js"
import type { ParsedCertificate } from "./parse.js"
import { CertError } from "./verify.js"

/** `"CN=alice@example.org"`, quoted, for messages. */
type Describe = (cert: ParsedCertificate) => string

const MAX_SERIAL_OCTETS = 20

const nonConforming = (message: string, depth: number): CertError =>
  new CertError({ reason: "NonConforming", message, depth })

const invalidName = (message: string, depth: number): CertError =>
  new CertError({ reason: "InvalidName", message, depth })

/**
 * The first rule `cert` (at `depth` in a path whose anchor is at `anchorDepth`; `issuer` is the
 * next certificate of the path, absent for the anchor) breaks.
 */
export const conformanceError = (
  cert: ParsedCertificate,
  depth: number,
  anchorDepth: number,
  describe: Describe,
  issuer?: ParsedCertificate
): CertError | undefined => {
  const who = `The certificate ${describe(cert)}`
  const fix = "its CA must reissue it"
  const ext = cert.extensions
  const critical = ext.critical
  const isAnchor = depth === anchorDepth
  const isCa = ext.basicConstraints?.ca === true
  const legacyAnchor = isAnchor && cert.version < 3
  // Self-signed: the anchor when self-issued (its signature is not checked), or a certificate its
  // own key signed (a self-issued CA with a new key, a rollover, is not self-signed).
  const selfSigned = cert.selfIssued && (isAnchor || (issuer !== undefined && bytesEqual(issuer.spki, cert.spki)))

  // 4.1.2.2: a positive integer of at most 20 octets.
  const serial = cert.serialOctets
  if (serial.length > MAX_SERIAL_OCTETS || (serial[0]! & 0x80) !== 0 || serial.every((b) => b === 0))
    return nonConforming(
      `${who} has a serial number that is ${serial.length > MAX_SERIAL_OCTETS ? `${serial.length} octets long (at most 20 are allowed)` : "zero or negative (it must be positive)"}; ${fix}.`,
      depth
    )
  // 4.1.2.4: the issuer is a non-empty distinguished name.
  if (cert.issuer.rdns.length === 0) return nonConforming(`${who} has an empty issuer name; ${fix}.`, depth)
  // 4.1.2.6: a CA's subject is a non-empty distinguished name.
  if ((isCa || depth > 0) && cert.subject.rdns.length === 0)
    return nonConforming(`${who} is a CA certificate with an empty subject name; its issuer must reissue it.`, depth)
  // 4.2.1.6: an empty subject needs a critical subjectAltName.
  if (!legacyAnchor && cert.subject.rdns.length === 0 && critical.get(ExtensionId.subjectAltName) !== true)
    return nonConforming(
      `${who} has an empty subject and ${ext.subjectAltName === undefined ? "no" : "a non-critical"} subjectAltName (it must be critical); ${fix}.`,
      depth
    )

  // 4.2.1.1: every certificate but a self-signed one names its issuer's key; never critical.
  if (critical.get(ExtensionId.authorityKeyIdentifier) === true)
    return nonConforming(`${who} marks its authorityKeyIdentifier critical, which RFC 5280 forbids; ${fix}.`, depth)
  if (ext.authorityKeyId === undefined && !legacyAnchor && !selfSigned)
    return nonConforming(
      `${who} has no authorityKeyIdentifier keyIdentifier (required in every certificate but a self-signed root); ${fix}.`,
      depth
    )
  // 4.2.1.2: every CA certificate carries a subjectKeyIdentifier; never critical.
  if (critical.get(ExtensionId.subjectKeyIdentifier) === true)
    return nonConforming(`${who} marks its subjectKeyIdentifier critical, which RFC 5280 forbids; ${fix}.`, depth)
  if (isCa && ext.subjectKeyId === undefined)
    return nonConforming(`${who} is a CA certificate without a subjectKeyIdentifier; ${fix}.`, depth)

  // 4.2.1.9: a CA's basicConstraints is critical; pathLenConstraint only with cA=TRUE.
  if (isCa && critical.get(ExtensionId.basicConstraints) !== true)
    return nonConforming(`${who} is a CA certificate whose basicConstraints is not critical; ${fix}.`, depth)
  if (!isCa && ext.basicConstraints?.pathLen !== undefined)
    return nonConforming(`${who} sets a pathLenConstraint without cA=TRUE; ${fix}.`, depth)
  // 4.2.1.3: at least one keyUsage bit; keyCertSign only with cA=TRUE.
  if (ext.keyUsage === 0) return nonConforming(`${who} has a keyUsage with no bit set; ${fix}.`, depth)
  if (!isCa && ext.keyUsage !== undefined && (ext.keyUsage & (1 << KeyUsageBit.keyCertSign)) !== 0)
    return nonConforming(`${who} asserts keyCertSign but is not a CA (basicConstraints cA=TRUE); ${fix}.`, depth)

  // 4.2.1.10: name constraints only in a CA certificate, always critical, of well-formed names.
  const nc = ext.nameConstraints
  if (nc !== undefined) {
    if (!isCa) return nonConforming(`${who} is not a CA certificate but carries nameConstraints; ${fix}.`, depth)
    if (critical.get(ExtensionId.nameConstraints) !== true)
      return nonConforming(`${who} has nameConstraints that are not marked critical; ${fix}.`, depth)
    for (const list of [nc.permitted, nc.excluded])
      for (const constraint of list)
        if (!isWellFormedConstraint(constraint))
          return invalidName(
            `${who} has a name constraint on the ${describeGeneralName(constraint)}, which is not a well-formed constraint; ${fix}.`,
            depth
          )
  }
  // 4.2.1.11 and 4.2.1.14: policyConstraints and inhibitAnyPolicy MUST be critical (and, being
  // unprocessed, a critical one is refused as an unknown critical extension).
  for (const [id, name] of [
    [ExtensionId.policyConstraints, "policyConstraints"],
    [ExtensionId.inhibitAnyPolicy, "inhibitAnyPolicy"]
  ] as const)
    if (critical.get(id) === false) return nonConforming(`${who} has a non-critical ${name}; ${fix}.`, depth)

  // 4.2.1.6: every subjectAltName entry is a well-formed name of its form.
  for (const name of ext.subjectAltName ?? [])
    if (!isWellFormedName(name))
      return invalidName(
        `${who} carries the ${describeGeneralName(name)}, which is not a well-formed name; ${fix}.`,
        depth
      )
  return undefined
}
