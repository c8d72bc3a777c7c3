/**
 * Whether a certificate may stand as the users' CA of a foreign domain D (PROTOCOL.md §22.3.2). Pure.
 *
 * A domain root is accepted for D only when it can vouch for nobody but D's people: a CA certificate
 * (basicConstraints cA, keyUsage keyCertSign) whose CRITICAL name constraints permit rfc822Name
 * subtrees and every one of them is D itself or a mailbox at D (`D`, `user@D`). `.D` (mailboxes at
 * subdomains of D) is refused too: `a.D` is another domain, which may be run by someone else. The
 * dNSName subtrees are not judged: a foreign root is used only for handles (rfc822Name), never for an
 * IRP server name, which is verified under the Web PKI (§22.2).
 *
 * This is defence in depth: a UA verifies a handle `h@D` only under D's pinned root in any case.
 */

import { ExtensionId, hasKeyUsage, KeyUsageBit } from "../cert/extensions.js"
import { type ParsedCertificate, parseCertificate } from "../cert/parse.js"

export type DomainRootRefusal = "Malformed" | "NotCa" | "Unconstrained" | "OutsideDomain"

export type DomainRootCheck =
  | { readonly _tag: "Accepted"; readonly root: ParsedCertificate }
  | { readonly _tag: "Refused"; readonly reason: DomainRootRefusal; readonly message: string }

const refused = (reason: DomainRootRefusal, message: string): DomainRootCheck => ({
  _tag: "Refused",
  reason,
  message
})

/** A permitted rfc822Name subtree that stays inside `domain`: the domain itself or one mailbox at it. */
const mailboxSubtreeInDomain = (constraint: string, domain: string): boolean => {
  const at = constraint.lastIndexOf("@")
  const host = (at >= 0 ? constraint.slice(at + 1) : constraint).toLowerCase()
  return host === domain && at !== 0
}

/** `domain` is already normalised (lower case, no trailing dot: `normalizeDomain` of §21). */
export const checkDomainRoot = (der: Uint8Array, domain: string): DomainRootCheck => {
  const parsed = parseCertificate(der)
  if (parsed._tag !== "Parsed")
    return refused(
      "Malformed",
      parsed._tag === "TooLarge"
        ? `the CA certificate of ${domain} is ${parsed.size} bytes, over the limit`
        : `the CA certificate of ${domain} is not a valid certificate (${parsed.detail})`
    )
  const root = parsed.certificate
  const ext = root.extensions
  if (ext.basicConstraints?.ca !== true || !hasKeyUsage(ext.keyUsage, KeyUsageBit.keyCertSign))
    return refused("NotCa", `the CA certificate of ${domain} is not a CA certificate (cA and keyCertSign)`)
  const constraints = ext.nameConstraints
  if (constraints === undefined || ext.critical.get(ExtensionId.nameConstraints) !== true)
    return refused(
      "Unconstrained",
      `the CA of ${domain} has no critical name constraints, so it could vouch for people of any domain`
    )
  const mailboxes = constraints.permitted.flatMap((n) => (n.type === "rfc822" ? [n.value] : []))
  if (mailboxes.length === 0)
    return refused(
      "Unconstrained",
      `the CA of ${domain} does not confine the handles it vouches for (no permitted rfc822Name subtree)`
    )
  const outside = mailboxes.find((m) => !mailboxSubtreeInDomain(m, domain))
  if (outside !== undefined)
    return refused(
      "OutsideDomain",
      `the CA of ${domain} permits handles outside ${domain} ("${outside}"), so it cannot be the CA of ${domain}`
    )
  return { _tag: "Accepted", root }
}
