/**
 * Name constraints (RFC 5280 4.2.1.10 and 6.1.3 (b)-(c)). Pure.
 *
 * Each CA's constraints are checked on their own against every name of every certificate below
 * it; that is equivalent to intersecting permitted subtrees along the path. dNSName, rfc822Name,
 * directoryName and iPAddress are matched; for any other name form, a certificate that carries
 * such a name under a CA that constrains that form is refused (fail closed: "MUST be able to
 * process the name constraint", 4.2.1.10).
 */
import { hex } from "../bytes.js"
import type { GeneralName, NameConstraints } from "./extensions.js"
import { AttributeType, attributeTexts, formatName, isNamePrefix, type Name } from "./names.js"

const lower = (s: string): string => s.toLowerCase()
const stripDot = (s: string): string => (s.endsWith(".") ? s.slice(0, -1) : s)

/** dNSName: `example.org` covers itself and its subdomains; `.example.org` only subdomains; "" all. */
export const dnsMatches = (constraint: string, name: string): boolean => {
  const c = lower(stripDot(constraint))
  const n = lower(stripDot(name))
  if (c === "") return true
  if (c.startsWith(".")) return n.endsWith(c)
  return n === c || n.endsWith(`.${c}`)
}

/** rfc822Name: `user@host` one mailbox, `host` every mailbox at that host, `.host` mailboxes at its subdomains. */
export const emailMatches = (constraint: string, email: string): boolean => {
  const at = email.lastIndexOf("@")
  if (at <= 0) return false
  const local = email.slice(0, at)
  const host = lower(email.slice(at + 1))
  const cAt = constraint.lastIndexOf("@")
  if (cAt >= 0) return constraint.slice(0, cAt) === local && lower(constraint.slice(cAt + 1)) === host
  const c = lower(constraint)
  if (c.startsWith(".")) return host.endsWith(c)
  return host === c
}

/** iPAddress: the constraint is address || mask, of the same family. */
export const ipMatches = (constraint: Uint8Array, ip: Uint8Array): boolean => {
  if (constraint.length !== ip.length * 2) return false
  for (let i = 0; i < ip.length; i++) {
    const mask = constraint[ip.length + i]!
    if ((ip[i]! & mask) !== (constraint[i]! & mask)) return false
  }
  return true
}

const formOf = (n: GeneralName): string => (n.type === "other" ? `other:${n.tag}` : n.type)

/** `undefined` = this verifier cannot tell (an unsupported form). */
const matches = (constraint: GeneralName, name: GeneralName): boolean | undefined => {
  if (constraint.type === "dns" && name.type === "dns") return dnsMatches(constraint.value, name.value)
  if (constraint.type === "rfc822" && name.type === "rfc822") return emailMatches(constraint.value, name.value)
  if (constraint.type === "directory" && name.type === "directory") return isNamePrefix(constraint.name, name.name)
  if (constraint.type === "ip" && name.type === "ip") return ipMatches(constraint.bytes, name.bytes)
  return undefined
}

/** A wildcard dNSName (`*.example.org`) also covers excluded subtrees beneath its base. */
const wildcardHitsExcluded = (constraint: GeneralName, name: GeneralName): boolean => {
  if (constraint.type !== "dns" || name.type !== "dns" || !name.value.startsWith("*.")) return false
  const base = lower(stripDot(name.value.slice(2)))
  const c = lower(stripDot(constraint.value)).replace(/^\./, "")
  return c.endsWith(`.${base}`)
}

/**
 * The names a certificate asserts, for constraint checking: its subject (when not empty), the
 * subject's emailAddress attributes, every SAN entry and, for a leaf without a SAN rfc822Name,
 * a CN that looks like a handle (the verifier treats that CN as the identity, PROTOCOL.md §13,
 * so it must not escape an rfc822Name constraint).
 */
export const constrainedNames = (
  subject: Name,
  san: ReadonlyArray<GeneralName> | undefined,
  isLeaf: boolean
): Array<GeneralName> => {
  const names: Array<GeneralName> = []
  if (subject.rdns.length > 0) names.push({ type: "directory", name: subject })
  for (const email of attributeTexts(subject, AttributeType.emailAddress)) names.push({ type: "rfc822", value: email })
  if (san !== undefined) names.push(...san)
  if (isLeaf && !(san ?? []).some((n) => n.type === "rfc822"))
    for (const cn of attributeTexts(subject, AttributeType.commonName))
      if (cn.includes("@")) names.push({ type: "rfc822", value: cn })
  return names
}

/**
 * Comparisons (one name against one constraint of its form) one verification may make, across all
 * the paths it tries. Far above an honest chain (a few names against a few constraints per CA),
 * far below what a hostile one could ask (a 16 KiB CA holds ~1,500 constraints, a 16 KiB leaf
 * ~1,500 names: 2 million comparisons per CA). Like webpki's and Go's budgets, but counted before
 * comparing: a check that would exceed it is refused without doing any of the work.
 */
export const NAME_CONSTRAINT_BUDGET = 65_536

/** What is left of the budget; `validatePath` shares one per verification. */
export interface NameBudget {
  remaining: number
}

export type ConstraintCheck =
  | { readonly _tag: "Allowed" }
  | { readonly _tag: "Violation"; readonly name: GeneralName }
  | { readonly _tag: "OverBudget"; readonly needed: number }

const ALLOWED: ConstraintCheck = { _tag: "Allowed" }

const countByForm = (list: ReadonlyArray<GeneralName>): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const c of list) counts.set(formOf(c), (counts.get(formOf(c)) ?? 0) + 1)
  return counts
}

/**
 * Checks `names` against `constraints`: the first name that violates them, or `OverBudget` when
 * the comparisons needed (each name against every constraint of its form, permitted and excluded)
 * exceed what is left of `budget`; then nothing is compared and the budget is spent.
 */
export const checkNames = (
  constraints: NameConstraints,
  names: ReadonlyArray<GeneralName>,
  budget: NameBudget
): ConstraintCheck => {
  const permittedForms = countByForm(constraints.permitted)
  const excludedForms = countByForm(constraints.excluded)
  let needed = 0
  for (const name of names) {
    const form = formOf(name)
    needed += (permittedForms.get(form) ?? 0) + (excludedForms.get(form) ?? 0)
  }
  if (needed > budget.remaining) {
    budget.remaining = 0
    return { _tag: "OverBudget", needed }
  }
  budget.remaining -= needed
  const bad = firstViolation(constraints, names, permittedForms, excludedForms)
  return bad === undefined ? ALLOWED : { _tag: "Violation", name: bad }
}

/** The first name that violates the constraints, or `undefined` when all are allowed (no budget). */
export const violation = (constraints: NameConstraints, names: ReadonlyArray<GeneralName>): GeneralName | undefined =>
  firstViolation(constraints, names, countByForm(constraints.permitted), countByForm(constraints.excluded))

const firstViolation = (
  constraints: NameConstraints,
  names: ReadonlyArray<GeneralName>,
  permittedForms: ReadonlyMap<string, number>,
  excludedForms: ReadonlyMap<string, number>
): GeneralName | undefined => {
  for (const name of names) {
    const form = formOf(name)
    if (permittedForms.has(form)) {
      let allowed = false
      for (const c of constraints.permitted) {
        if (formOf(c) !== form) continue
        const m = matches(c, name)
        if (m === undefined) return name
        if (m) {
          allowed = true
          break
        }
      }
      if (!allowed) return name
    }
    if (excludedForms.has(form)) {
      for (const c of constraints.excluded) {
        if (formOf(c) !== form) continue
        const m = matches(c, name)
        if (m === undefined || m || wildcardHitsExcluded(c, name)) return name
      }
    }
  }
  return undefined
}

export const describeGeneralName = (name: GeneralName): string => {
  switch (name.type) {
    case "rfc822":
      return `email ${name.value}`
    case "dns":
      return `DNS name ${name.value}`
    case "uri":
      return `URI ${name.value}`
    case "ip":
      return `IP address ${name.bytes.length === 4 ? name.bytes.join(".") : hex(name.bytes)}`
    case "directory":
      return `directory name "${formatName(name.name)}"`
    case "other":
      return `name of form [${name.tag & 0x1f}]`
  }
}
