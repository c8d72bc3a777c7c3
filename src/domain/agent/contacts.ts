/**
 * Contacts and key pinning (PROTOCOL.md §13: "The UA pins each peer's SPKI SHA-256 on first contact;
 * a different key for a known handle is reported as a key change ... never silently accepted when
 * the user asked for strict mode"; issue 4, section 1; issue 10, sections 2 and 3). The pin is per
 * certificate chain (PROTOCOL.md section 13.5): the leaf's SPKI fingerprint plus the issuing CA's;
 * every key a contact used is kept in its key history, and a key once replaced never becomes the pin
 * again without `sixchat trust`. Pure: schemas and the pinning decisions.
 */
import { Schema } from "effect"
import { Fingerprint, Handle } from "../brands.js"
import { Instant } from "./messages.js"

/**
 * What a key change became: `pending` until the user accepts it (`sixchat trust HANDLE`);
 * `accepted` once the pin moved to it; `superseded` when another key was accepted instead.
 */
export const KeyChangeStatus = Schema.Literal("pending", "accepted", "superseded")
export type KeyChangeStatus = typeof KeyChangeStatus.Type

/**
 * The issuing CA of a chain: SHA-256 of the SPKI of the certificate that signed the leaf, lower-case
 * hex (PROTOCOL.md section 13.5). `""` where it is not known (keys pinned before store migration 2).
 */
export const IssuerId = Schema.String.pipe(Schema.pattern(/^(|[0-9a-f]{64})$/))
export type IssuerId = typeof IssuerId.Type

/**
 * A handle presented a chain other than the pinned one: another key, or the same key under another
 * issuing CA (`previous === current`, issuers differ). `returning`: the key was this contact's pin
 * once and was replaced since, so it is never accepted without the user (section 13.5).
 */
export const KeyChange = Schema.Struct({
  seq: Schema.Int,
  handle: Handle,
  /** When the new key was first seen. */
  at: Instant,
  previous: Fingerprint,
  current: Fingerprint,
  previousIssuer: IssuerId,
  currentIssuer: IssuerId,
  returning: Schema.Boolean,
  status: KeyChangeStatus,
  resolvedAt: Schema.NullOr(Instant)
})
export type KeyChange = typeof KeyChange.Type

/** One chain a contact presented (their key history, PROTOCOL.md section 13.5). */
export const ContactKey = Schema.Struct({
  fingerprint: Fingerprint,
  issuer: IssuerId,
  /** The newest certificate serial seen with this key and issuer (`null`: not known). */
  serial: Schema.NullOr(Schema.String),
  firstSeen: Instant,
  lastSeen: Instant,
  /** When another chain became the pin after this one (`null`: never replaced, or trusted again). */
  replacedAt: Schema.NullOr(Instant),
  /** This is the pinned chain now. */
  pinned: Schema.Boolean
})
export type ContactKey = typeof ContactKey.Type

/** A short per-session code (derived from the channel exporter, section 10.2), at most 128 characters. */
export const SessionCode = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))

/**
 * A peer this agent knows: pinned after a first handshake, or (fingerprint `null`) only written to.
 * `unread` counts incoming messages not read yet, `outbox` outgoing ones not yet acknowledged.
 */
export const Contact = Schema.Struct({
  handle: Handle,
  fingerprint: Schema.NullOr(Fingerprint),
  pinnedAt: Schema.NullOr(Instant),
  lastHandshakeAt: Schema.NullOr(Instant),
  /** The pinned chain's issuing CA (`""` when not known yet). */
  issuer: Schema.NullOr(IssuerId),
  /** The pinned key's SPKI DER, base64 (`null` until a handshake after store migration 2). */
  spki: Schema.NullOr(Schema.String),
  /** The last session's code (section 10.2): per session, NOT the safety number. */
  sessionCode: Schema.NullOr(Schema.String),
  sessionCodeAt: Schema.NullOr(Instant),
  lastMessageAt: Schema.NullOr(Instant),
  unread: Schema.Int,
  outbox: Schema.Int,
  /** The newest key change the user has not accepted yet. */
  pendingKeyChange: Schema.NullOr(KeyChange),
  /** The newest key change of any status (accepted ones included: every change stays visible). */
  lastKeyChange: Schema.NullOr(KeyChange),
  /** `sixchat contact verify`: the pinned key it was done for, our own key then, and when. */
  verifiedFingerprint: Schema.NullOr(Fingerprint),
  verifiedOwn: Schema.NullOr(Fingerprint),
  verifiedAt: Schema.NullOr(Instant),
  /** Filled in by the agent (it knows its own key): the pair's safety number, 60 digits (section 10.1). */
  safetyNumber: Schema.optional(Schema.NullOr(Schema.String)),
  /** Filled in by the agent: the safety number was compared for these very keys (ours and theirs). */
  verified: Schema.optional(Schema.Boolean),
  /** `contact` only: every chain this contact presented, oldest first. */
  keys: Schema.optional(Schema.Array(ContactKey))
})
export type Contact = typeof Contact.Type

/**
 * The result of `pinContact` after a successful handshake:
 * * `New`: first key seen for this handle; it is now pinned (trust on first use);
 * * `Same`: the pinned key again;
 * * `Changed`: another key. With `accepted: false` (strict) the pin stays and the caller MUST
 *   refuse the session until the user accepts (PROTOCOL.md §13); with `accepted: true` the pin
 *   moved and the change is on record for the user to see.
 */
export type PinResult =
  | { readonly _tag: "New" }
  | { readonly _tag: "Same" }
  | {
      readonly _tag: "Changed"
      readonly previous: Fingerprint
      readonly current: Fingerprint
      readonly accepted: boolean
      readonly change: KeyChange
    }

/**
 * How a presented chain relates to the stored pin (`null`: nothing pinned yet). The pin is the pair
 * (leaf SPKI fingerprint, issuing CA); an issuer of `""` (not known) matches any issuer, once.
 */
export const comparePin = (
  pinned: { readonly fingerprint: Fingerprint; readonly issuer: string } | null,
  presented: { readonly fingerprint: Fingerprint; readonly issuer: string }
): "New" | "Same" | "Changed" => {
  if (pinned === null) return "New"
  if (pinned.fingerprint !== presented.fingerprint) return "Changed"
  return pinned.issuer === "" || presented.issuer === "" || pinned.issuer === presented.issuer ? "Same" : "Changed"
}

/**
 * Whether a key change may move the pin without the user: only in non-strict mode, and never for a
 * key that was replaced before (key1 -> key2 -> key1 is a rollback, the shape of a stolen old key).
 */
export const mayAcceptSilently = (strictKeys: boolean, returning: boolean): boolean => !strictKeys && !returning

/**
 * The contact's pinned keys match what `contact verify` compared: the same peer key, and our own
 * key unchanged since (either key changing changes the safety number, section 10.1).
 */
export const isVerified = (
  c: Pick<Contact, "fingerprint" | "verifiedFingerprint" | "verifiedOwn">,
  own: Fingerprint
): boolean => c.fingerprint !== null && c.verifiedFingerprint === c.fingerprint && c.verifiedOwn === own
