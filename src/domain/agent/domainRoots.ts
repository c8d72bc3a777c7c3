/**
 * Pinned roots of foreign domains (PROTOCOL.md §22.3.3): a User Agent pins, per domain, the users' CA
 * its home IRP relayed on first use; a different root later is a **domain key change**, shown like a
 * contact's key change (§13.5.3) and, under `--strict-keys`, held until `sixchat trust @D`. Pure:
 * schemas and the pinning decision.
 *
 * The fingerprint is SHA-256 of the root certificate's DER (what `openssl x509 -fingerprint -sha256`
 * prints): a re-issued root with the same key but other constraints is another root.
 */
import { Schema } from "effect"
import { Fingerprint } from "../brands.js"
import { KeyChangeStatus } from "./contacts.js"
import { Instant } from "./messages.js"

/** A domain name as §21.1 normalises it (lower case, at least two labels, no final dot). */
export const DomainName = Schema.String.pipe(
  Schema.pattern(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
  Schema.brand("DomainName")
)
export type DomainName = typeof DomainName.Type

/** A domain's root changed: `pending` (strict mode) until `sixchat trust @D`, else `accepted` at once. */
export const DomainKeyChange = Schema.Struct({
  seq: Schema.Int,
  domain: DomainName,
  /** When the new root was first seen. */
  at: Instant,
  previous: Fingerprint,
  current: Fingerprint,
  /** The new root's subject, for the user. */
  subject: Schema.String,
  status: KeyChangeStatus,
  resolvedAt: Schema.NullOr(Instant)
})
export type DomainKeyChange = typeof DomainKeyChange.Type

/** The pin of one domain (`sixchat domain show D`). */
export const DomainPin = Schema.Struct({
  domain: DomainName,
  fingerprint: Fingerprint,
  /** The pinned root, DER base64. */
  root: Schema.String,
  subject: Schema.String,
  firstSeen: Instant,
  /** When the pin last moved to another root (`null`: never). */
  changedAt: Schema.NullOr(Instant),
  /** The root pinned before that (`null`: never changed). */
  previous: Schema.NullOr(Fingerprint),
  /** A change waiting for `sixchat trust @D` (strict mode). */
  pendingChange: Schema.NullOr(DomainKeyChange)
})
export type DomainPin = typeof DomainPin.Type

/** A root presented for a domain. */
export interface PresentedRoot {
  readonly fingerprint: Fingerprint
  readonly der: Uint8Array
  readonly subject: string
}

/**
 * `observeDomainRoot`'s result: `New` (pinned on first use), `Same` (the pinned root), `Changed` (another
 * root: `accepted` when the pin moved at once, else held until the user trusts it).
 */
export type DomainPinResult =
  | { readonly _tag: "New" }
  | { readonly _tag: "Same" }
  | { readonly _tag: "Changed"; readonly accepted: boolean; readonly change: DomainKeyChange }

export const compareDomainRoot = (
  pinned: { readonly fingerprint: Fingerprint } | undefined,
  presented: { readonly fingerprint: Fingerprint }
): "New" | "Same" | "Changed" =>
  pinned === undefined ? "New" : pinned.fingerprint === presented.fingerprint ? "Same" : "Changed"

/** `@other.net` (the argument of `sixchat trust @D`) or `undefined` when it is not one. */
export const domainArgument = (text: string): DomainName | undefined => {
  if (!text.startsWith("@")) return undefined
  const d = text.slice(1).toLowerCase().replace(/\.$/, "")
  return Schema.is(DomainName)(d) ? d : undefined
}
