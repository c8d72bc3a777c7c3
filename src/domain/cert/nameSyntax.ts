/**
 * Syntax of the names a certificate carries (RFC 5280 4.2.1.6) and of name constraints
 * (4.2.1.10). Pure. A name that is not well-formed cannot be matched against a constraint
 * reliably, so the validator refuses it rather than guess (PROTOCOL.md §13.7).
 */
import type { GeneralName } from "./extensions.js"

/** One label: letters, digits, hyphens, not at either end; underscores tolerated (as webpki does: real DNS uses them). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/

/**
 * A DNS name in "preferred name syntax" (RFC 1034 3.5, as RFC 5280 4.2.1.6 requires): labels of
 * 1..63 characters, 253 at most in all. `wildcard` allows `*` as the whole first label (a SAN may
 * carry `*.example.org`; a constraint may not).
 */
const isDnsName = (name: string, wildcard: boolean): boolean => {
  if (name.length === 0 || name.length > 253) return false
  const labels = name.split(".")
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!
    if (i === 0 && wildcard && label === "*" && labels.length > 1) continue
    if (!LABEL.test(label)) return false
  }
  return true
}

/** RFC 5321 atext plus the dots of a dot-string (no leading, trailing or doubled dot). */
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/
/** RFC 5321 quoted-string: printable ASCII, with `\"` and `\\` escapes. */
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/

/** An rfc822Name: an RFC 5321 Mailbox `local-part@domain` (RFC 5280 4.2.1.6). */
const isMailbox = (text: string): boolean => {
  const at = text.lastIndexOf("@")
  if (at <= 0) return false
  const local = text.slice(0, at)
  if (local.length > 64 || !(DOT_STRING.test(local) || QUOTED.test(local))) return false
  return isDnsName(text.slice(at + 1), false)
}

/** Whether a subjectAltName entry is well-formed; other name forms are carried, not judged. */
export const isWellFormedName = (name: GeneralName): boolean => {
  switch (name.type) {
    case "rfc822":
      return isMailbox(name.value)
    case "dns":
      return isDnsName(name.value, true)
    case "ip":
      return name.bytes.length === 4 || name.bytes.length === 16
    case "uri":
      return name.value.length > 0
    default:
      return true
  }
}

/**
 * Whether a name constraint is well-formed (RFC 5280 4.2.1.10): a dNSName constraint is a DNS
 * name (or empty: every name), never `.example.org`, a form the RFC gives only to rfc822Name and
 * URI constraints; an rfc822Name constraint is a mailbox, a host, or `.host`; an iPAddress
 * constraint is an address and a mask (8 or 32 octets).
 */
export const isWellFormedConstraint = (constraint: GeneralName): boolean => {
  switch (constraint.type) {
    case "dns":
      return constraint.value === "" || isDnsName(constraint.value, false)
    case "rfc822":
      if (constraint.value.includes("@")) return isMailbox(constraint.value)
      return isDnsName(constraint.value.startsWith(".") ? constraint.value.slice(1) : constraint.value, false)
    case "uri":
      return isDnsName(constraint.value.startsWith(".") ? constraint.value.slice(1) : constraint.value, false)
    case "ip":
      return constraint.bytes.length === 8 || constraint.bytes.length === 32
    default:
      return true
  }
}
