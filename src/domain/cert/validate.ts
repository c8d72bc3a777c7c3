/**
 * Validation of one built path (RFC 5280 6.1, PROTOCOL.md §13). Pure: time and revocation come in.
 *
 * The path is `[leaf, …intermediates, anchor]`; its signatures were checked while it was built.
 * The anchor is trusted as input (RFC 5280 6.1.1 (d)): its own validity and signature are not
 * checked, but, as RFC 5937 allows, its basicConstraints, keyUsage, pathLenConstraint and name
 * constraints still bind the certificates below it when it carries them.
 *
 * Checks run in a fixed order so each chain gets one predictable reason: validity, unknown
 * critical extensions, chain length, CA rules, name constraints, leaf usage, revocation, identity.
 */
import type { Handle } from "../brands.js"
import { ExtendedKeyUsage, hasKeyUsage, KeyUsageBit } from "./extensions.js"
import { dnsNamesOf, handleCandidates, normaliseDnsName } from "./identity.js"
import { constrainedNames, describeGeneralName, violation } from "./nameConstraints.js"
import { formatName } from "./names.js"
import type { ParsedCertificate } from "./parse.js"
import { CertError, type CertRejection, type Purpose } from "./verify.js"

export interface ValidationPolicy {
  /** Check time, epoch milliseconds, whole seconds. */
  readonly at: number
  readonly purpose: Purpose
  /** Non-self-issued intermediates allowed. */
  readonly maxIntermediates: number
  readonly expectedHandle?: Handle | undefined
  readonly expectedDnsName?: string | undefined
  readonly isRevoked?: ((issuerDer: Uint8Array, serialHex: string) => boolean) | undefined
}

/** `"CN=alice@example.org"`, quoted, for messages. */
export const describe = (cert: ParsedCertificate): string =>
  cert.subject.rdns.length === 0 ? `with serial ${cert.serial} and an empty subject` : `"${formatName(cert.subject)}"`

export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

const fail = (reason: CertRejection, message: string, depth?: number): CertError =>
  new CertError({ reason, message, depth })

const PURPOSE: Record<Exclude<Purpose, "any">, { readonly oid: string; readonly text: string }> = {
  "client-auth": { oid: ExtendedKeyUsage.clientAuth, text: "client authentication (clientAuth)" },
  "server-auth": { oid: ExtendedKeyUsage.serverAuth, text: "server authentication (serverAuth)" }
}

/** `undefined` when the path is acceptable, else the first reason to refuse it. */
export const validatePath = (
  path: ReadonlyArray<ParsedCertificate>,
  policy: ValidationPolicy
): CertError | undefined => {
  const last = path.length - 1 // the anchor
  const leaf = path[0]!

  // Validity windows (RFC 5280 6.1.3 (a)(2)), leaf first; the anchor is input, not checked.
  for (let i = 0; i < last; i++) {
    const c = path[i]!
    if (policy.at < c.notBefore)
      return fail(
        "NotYetValid",
        `The certificate ${describe(c)} is not valid before ${isoSeconds(c.notBefore)} (checked at ${isoSeconds(policy.at)}); check the clock or wait.`,
        i
      )
    if (policy.at > c.notAfter)
      return fail(
        "Expired",
        `The certificate ${describe(c)} expired at ${isoSeconds(c.notAfter)} (checked at ${isoSeconds(policy.at)}); it must be renewed.`,
        i
      )
  }

  // RFC 5280 4.2: an unrecognised critical extension MUST make the certificate be rejected.
  for (let i = 0; i < last; i++) {
    const c = path[i]!
    const oid = c.extensions.unknownCritical[0]
    if (oid !== undefined)
      return fail(
        "UnknownCriticalExtension",
        `The certificate ${describe(c)} has a critical extension (${oid}) this verifier does not process, so it is refused.`,
        i
      )
  }

  // PROTOCOL.md §13.2: at most `maxIntermediates` intermediates, self-issued ones not counted.
  let intermediates = 0
  for (let i = 1; i < last; i++) if (!path[i]!.selfIssued) intermediates++
  if (intermediates > policy.maxIntermediates)
    return fail(
      "ChainTooLong",
      `The chain of ${describe(leaf)} has ${intermediates} intermediate CA certificates; at most ${policy.maxIntermediates} are allowed.`
    )

  // Issuers: cA=TRUE, keyCertSign, pathLenConstraint (RFC 5280 6.1.4 (k), (l), (m), (n)).
  for (let j = 1; j <= last; j++) {
    const ca = path[j]!
    const bc = ca.extensions.basicConstraints
    // A v1 anchor without extensions is trusted as configured; anything else must say cA=TRUE.
    const legacyAnchor = j === last && ca.version < 3
    if (!legacyAnchor && bc?.ca !== true)
      return fail(
        "NotCA",
        `The certificate ${describe(ca)} issued ${describe(path[j - 1]!)} but is not a CA (basicConstraints cA=TRUE is missing).`,
        j
      )
    if (!hasKeyUsage(ca.extensions.keyUsage, KeyUsageBit.keyCertSign))
      return fail(
        "MissingKeyCertSign",
        `The CA certificate ${describe(ca)} has a keyUsage without keyCertSign, so it may not issue certificates.`,
        j
      )
    const pathLen = bc?.pathLen
    if (pathLen !== undefined) {
      let below = 0
      for (let i = 1; i < j; i++) if (!path[i]!.selfIssued) below++
      if (below > pathLen)
        return fail(
          "PathLenExceeded",
          `The CA certificate ${describe(ca)} allows ${pathLen} intermediate CA certificate(s) below it (pathLenConstraint) but the chain has ${below}.`,
          j
        )
    }
  }

  // Name constraints (RFC 5280 6.1.3 (b), (c)): each CA's constraints bind every certificate
  // below it, except self-issued intermediates; the leaf is always checked.
  for (let j = 1; j <= last; j++) {
    const nc = path[j]!.extensions.nameConstraints
    if (nc === undefined) continue
    for (let i = 0; i < j; i++) {
      const c = path[i]!
      if (i > 0 && c.selfIssued) continue
      const bad = violation(nc, constrainedNames(c.subject, c.extensions.subjectAltName, i === 0))
      if (bad !== undefined)
        return fail(
          "NameConstraintViolation",
          `The certificate ${describe(c)} carries the ${describeGeneralName(bad)}, which the name constraints of CA ${describe(path[j]!)} do not allow.`,
          i
        )
    }
  }

  // Leaf usage (PROTOCOL.md §13): digitalSignature when keyUsage is present, and the purpose's EKU.
  if (!hasKeyUsage(leaf.extensions.keyUsage, KeyUsageBit.digitalSignature))
    return fail(
      "MissingDigitalSignature",
      `The certificate ${describe(leaf)} has a keyUsage without digitalSignature, so it cannot sign a handshake.`,
      0
    )
  if (policy.purpose !== "any") {
    const eku = leaf.extensions.extKeyUsage
    const want = PURPOSE[policy.purpose]
    if (eku !== undefined && !eku.includes(want.oid) && !eku.includes(ExtendedKeyUsage.any))
      return fail(
        "WrongPurpose",
        `The certificate ${describe(leaf)} is not meant for ${want.text}: its extendedKeyUsage does not list it.`,
        0
      )
  }

  // Revocation (PROTOCOL.md §13): asked for every certificate below the anchor.
  if (policy.isRevoked !== undefined)
    for (let i = 0; i < last; i++) {
      const c = path[i]!
      if (policy.isRevoked(path[i + 1]!.der, c.serial))
        return fail("Revoked", `The certificate ${describe(c)} (serial ${c.serial}) has been revoked by its issuer.`, i)
    }

  // Identity (PROTOCOL.md §§6, 17): the handle dialled / the IRP server's DNS name.
  if (policy.expectedHandle !== undefined) {
    const names = handleCandidates(leaf)
    if (!names.includes(policy.expectedHandle.toLowerCase()))
      return fail(
        "IdentityMismatch",
        `The certificate ${describe(leaf)} ${names.length === 0 ? "names no handle" : `names ${names.join(", ")}`}, not ${policy.expectedHandle}, the handle that was expected.`,
        0
      )
  }
  if (policy.expectedDnsName !== undefined) {
    const want = normaliseDnsName(policy.expectedDnsName)
    const names = dnsNamesOf(leaf)
    if (!names.includes(want))
      return fail(
        "IdentityMismatch",
        `The certificate ${describe(leaf)} ${names.length === 0 ? "names no DNS name" : `names ${names.join(", ")}`}, not ${want}, the server that was expected.`,
        0
      )
  }
  return undefined
}
