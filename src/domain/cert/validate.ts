/**
 * Validation of one built path (RFC 5280 6.1, PROTOCOL.md §13). Pure: time and revocation come in.
 *
 * The path is `[leaf, …intermediates, anchor]`; its signatures were checked while it was built.
 * The anchor's own signature is not checked (it is input, RFC 5280 6.1.1 (d)), but it is held to
 * the rest, as OpenSSL holds it (PROTOCOL.md §13.7): its validity, its critical extensions, the
 * RFC 5280 section 4 rules; and, as RFC 5937 allows, its basicConstraints, keyUsage,
 * pathLenConstraint and name constraints bind the certificates below it.
 *
 * Checks run in a fixed order so each chain gets one predictable reason: validity, unknown
 * critical extensions, chain length, CA rules, RFC 5280 section 4 conformance, name constraints,
 * leaf usage, revocation, identity.
 */
import type { Handle } from "../brands.js"
import { conformanceError } from "./conformance.js"
import { ExtendedKeyUsage, hasKeyUsage, KeyUsageBit } from "./extensions.js"
import { dnsNamesOf, handleCandidates, normaliseDnsName } from "./identity.js"
import {
  checkNames,
  constrainedNames,
  describeGeneralName,
  NAME_CONSTRAINT_BUDGET,
  type NameBudget
} from "./nameConstraints.js"
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
  /** Name-constraint comparisons left; share one across the paths of a verification (default: a fresh budget). */
  readonly nameBudget?: NameBudget | undefined
}

/** `"CN=alice@example.org"`, quoted, for messages. */
export const describe = (cert: ParsedCertificate): string =>
  cert.subject.rdns.length === 0 ? `with serial ${cert.serial} and an empty subject` : `"${formatName(cert.subject)}"`

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

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

  // Validity windows (RFC 5280 6.1.3 (a)(2)), leaf first, the anchor included (PROTOCOL.md §13.7).
  for (let i = 0; i <= last; i++) {
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

  // RFC 5280 4.2: an unrecognised critical extension MUST make the certificate be rejected; the
  // anchor's too (it may restrict what the anchor can be trusted for).
  for (let i = 0; i <= last; i++) {
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

  // RFC 5280 section 4 rules, leaf first (PROTOCOL.md §13.7).
  for (let i = 0; i <= last; i++) {
    const error = conformanceError(path[i]!, i, last, describe, path[i + 1])
    if (error !== undefined) return error
  }

  // Name constraints (RFC 5280 6.1.3 (b), (c)): each CA's constraints bind every certificate
  // below it, except self-issued intermediates; the leaf is always checked. The comparisons are
  // budgeted (NAME_CONSTRAINT_BUDGET) so a hostile chain cannot make this quadratic step slow.
  const budget = policy.nameBudget ?? { remaining: NAME_CONSTRAINT_BUDGET }
  for (let j = 1; j <= last; j++) {
    const nc = path[j]!.extensions.nameConstraints
    if (nc === undefined) continue
    for (let i = 0; i < j; i++) {
      const c = path[i]!
      if (i > 0 && c.selfIssued) continue
      const result = checkNames(nc, constrainedNames(c.subject, c.extensions.subjectAltName, i === 0), budget)
      if (result._tag === "OverBudget")
        return fail(
          "LimitExceeded",
          `Checking the names of ${describe(c)} against the name constraints of CA ${describe(path[j]!)} needs more comparisons than this verifier allows (${NAME_CONSTRAINT_BUDGET} per verification), so the chain is refused.`,
          i
        )
      if (result._tag === "Violation")
        return fail(
          "NameConstraintViolation",
          `The certificate ${describe(c)} carries the ${describeGeneralName(result.name)}, which the name constraints of CA ${describe(path[j]!)} do not allow.`,
          i
        )
    }
  }

  // Leaf usage (PROTOCOL.md §13): for a handshake purpose, digitalSignature when keyUsage is
  // present (the leaf signs CertificateVerify) and the purpose's EKU; `any` asks for neither.
  if (policy.purpose !== "any") {
    if (!hasKeyUsage(leaf.extensions.keyUsage, KeyUsageBit.digitalSignature))
      return fail(
        "MissingDigitalSignature",
        `The certificate ${describe(leaf)} has a keyUsage without digitalSignature, so it cannot sign a handshake.`,
        0
      )
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
