/**
 * Contacts and key pinning (brief section 6: "The UA pins each peer's SPKI SHA-256 on first contact;
 * a different key for a known handle is reported as a key change ... never silently accepted when
 * the user asked for strict mode"; issue 4, section 1). Pure: schemas and the pinning decision.
 */
import { Schema } from "effect"
import { Fingerprint, Handle } from "../brands.js"
import { Millis } from "./messages.js"

/**
 * What a key change became: `pending` until the user accepts it (`sixchat trust HANDLE`);
 * `accepted` once the pin moved to it; `superseded` when another key was accepted instead.
 */
export const KeyChangeStatus = Schema.Literal("pending", "accepted", "superseded")
export type KeyChangeStatus = typeof KeyChangeStatus.Type

/** A handle presented a key other than the pinned one. */
export const KeyChange = Schema.Struct({
  seq: Schema.Int,
  handle: Handle,
  /** When the new key was first seen. */
  at: Millis,
  previous: Fingerprint,
  current: Fingerprint,
  status: KeyChangeStatus,
  resolvedAt: Schema.NullOr(Millis)
})
export type KeyChange = typeof KeyChange.Type

/** A short code two people compare (derived from the channel exporter by the caller), at most 128 characters. */
export const VerificationCode = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))

/**
 * A peer this agent knows: pinned after a first handshake, or (fingerprint `null`) only written to.
 * `unread` counts incoming messages not read yet, `outbox` outgoing ones not yet acknowledged.
 */
export const Contact = Schema.Struct({
  handle: Handle,
  fingerprint: Schema.NullOr(Fingerprint),
  pinnedAt: Schema.NullOr(Millis),
  lastHandshakeAt: Schema.NullOr(Millis),
  verificationCode: Schema.NullOr(Schema.String),
  verificationCodeAt: Schema.NullOr(Millis),
  lastMessageAt: Schema.NullOr(Millis),
  unread: Schema.Int,
  outbox: Schema.Int,
  /** The newest key change the user has not accepted yet. */
  pendingKeyChange: Schema.NullOr(KeyChange)
})
export type Contact = typeof Contact.Type

/**
 * The result of `pinContact` after a successful handshake:
 * * `New`: first key seen for this handle; it is now pinned (trust on first use);
 * * `Same`: the pinned key again;
 * * `Changed`: another key. With `accepted: false` (strict) the pin stays and the caller MUST
 *   refuse the session until the user accepts (brief section 6); with `accepted: true` the pin
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

/** How a presented key relates to the stored pin (`null`: nothing pinned yet). */
export const comparePin = (pinned: Fingerprint | null, presented: Fingerprint): "New" | "Same" | "Changed" =>
  pinned === null ? "New" : pinned === presented ? "Same" : "Changed"
