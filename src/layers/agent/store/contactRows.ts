/**
 * Contact, key-change and key-history rows (issue 10, sections 2 and 3), decoded through Schemas
 * like every other row (`./rows.ts`), and the column lists they expect.
 */
import { Schema } from "effect"
import {
  type Contact,
  type ContactKey,
  IssuerId,
  type KeyChange,
  KeyChangeStatus
} from "../../../domain/agent/contacts.js"
import { Millis } from "../../../domain/agent/messages.js"
import { Fingerprint, Handle } from "../../../domain/brands.js"
import { decoder } from "./rows.js"

const NullableMillis = Schema.NullOr(Millis)
const NullableText = Schema.NullOr(Schema.String)
/** SQLite has no booleans: 0 or 1. */
const Flag = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (n) => n === 1,
  encode: (b) => (b ? 1 : 0)
})

export const KEY_CHANGE_COLUMNS =
  "seq, handle, at, previous, current, previous_issuer, current_issuer, came_back, status, resolved_at"

const KeyChangeRow = Schema.Struct({
  seq: Schema.Int,
  handle: Handle,
  at: Millis,
  previous: Fingerprint,
  current: Fingerprint,
  previous_issuer: IssuerId,
  current_issuer: IssuerId,
  came_back: Flag,
  status: KeyChangeStatus,
  resolved_at: NullableMillis
})

const keyChangeOf = (r: typeof KeyChangeRow.Type): KeyChange => ({
  seq: r.seq,
  handle: r.handle,
  at: r.at,
  previous: r.previous,
  current: r.current,
  previousIssuer: r.previous_issuer,
  currentIssuer: r.current_issuer,
  returning: r.came_back,
  status: r.status,
  resolvedAt: r.resolved_at
})

export const decodeKeyChanges = decoder("key change", KeyChangeRow, keyChangeOf)

/** A key change as one JSON text column (NULL when the join found none), decoded by `KeyChangeJson`. */
const changeJson = (alias: string) =>
  `CASE WHEN ${alias}.seq IS NULL THEN NULL ELSE json_object(${KEY_CHANGE_COLUMNS.split(", ")
    .map((c) => `'${c}', ${alias}.${c}`)
    .join(", ")}) END`

const KeyChangeJson = Schema.NullOr(Schema.parseJson(KeyChangeRow))

/**
 * A contact with its summary: last message time, unread and outbox counts (each an indexed lookup),
 * the pinned key's SPKI, the newest pending key change and the newest key change of any status.
 */
export const CONTACT_SELECT = `
  SELECT c.handle, c.fingerprint, c.pinned_at, c.last_handshake_at, c.pinned_issuer, c.session_code,
    c.session_code_at, c.verified_fingerprint, c.verified_own, c.verified_at,
    (SELECT ck.spki FROM contact_keys ck WHERE ck.handle = c.handle AND ck.fingerprint = c.fingerprint
      AND ck.spki IS NOT NULL ORDER BY ck.last_seen DESC LIMIT 1) AS spki,
    (SELECT MAX(m.at) FROM messages m WHERE m.peer = c.handle) AS last_message_at,
    (SELECT COUNT(*) FROM messages m WHERE m.peer = c.handle AND m.direction = 'in' AND m.state = 'received')
      AS unread,
    (SELECT COUNT(*) FROM messages m WHERE m.peer = c.handle AND m.direction = 'out'
      AND m.state IN ('queued', 'sent')) AS outbox,
    ${changeJson("k")} AS pending_change, ${changeJson("l")} AS last_change
  FROM contacts c
  LEFT JOIN key_changes k
    ON k.seq = (SELECT MAX(seq) FROM key_changes WHERE handle = c.handle AND status = 'pending')
  LEFT JOIN key_changes l
    ON l.seq = (SELECT MAX(seq) FROM key_changes WHERE handle = c.handle)`

const ContactRow = Schema.Struct({
  handle: Handle,
  fingerprint: Schema.NullOr(Fingerprint),
  pinned_at: NullableMillis,
  last_handshake_at: NullableMillis,
  pinned_issuer: Schema.NullOr(IssuerId),
  session_code: NullableText,
  session_code_at: NullableMillis,
  verified_fingerprint: Schema.NullOr(Fingerprint),
  verified_own: Schema.NullOr(Fingerprint),
  verified_at: NullableMillis,
  spki: NullableText,
  last_message_at: NullableMillis,
  unread: Schema.Int,
  outbox: Schema.Int,
  pending_change: KeyChangeJson,
  last_change: KeyChangeJson
})

export const decodeContacts = decoder(
  "contact",
  ContactRow,
  (r): Contact => ({
    handle: r.handle,
    fingerprint: r.fingerprint,
    pinnedAt: r.pinned_at,
    lastHandshakeAt: r.last_handshake_at,
    issuer: r.pinned_issuer,
    spki: r.spki,
    sessionCode: r.session_code,
    sessionCodeAt: r.session_code_at,
    lastMessageAt: r.last_message_at,
    unread: r.unread,
    outbox: r.outbox,
    pendingKeyChange: r.pending_change === null ? null : keyChangeOf(r.pending_change),
    lastKeyChange: r.last_change === null ? null : keyChangeOf(r.last_change),
    verifiedFingerprint: r.verified_fingerprint,
    verifiedOwn: r.verified_own,
    verifiedAt: r.verified_at
  })
)

export const CONTACT_KEY_COLUMNS = "fingerprint, issuer, serial, first_seen, last_seen, replaced_at"

const ContactKeyRow = Schema.Struct({
  fingerprint: Fingerprint,
  issuer: IssuerId,
  serial: NullableText,
  first_seen: Millis,
  last_seen: Millis,
  replaced_at: NullableMillis
})

/** Key history rows; `pinned` marks the contact's current pin (fingerprint and issuer). */
export const decodeContactKeys = (pinned: { readonly fingerprint: string | null; readonly issuer: string | null }) =>
  decoder(
    "contact key",
    ContactKeyRow,
    (r): ContactKey => ({
      fingerprint: r.fingerprint,
      issuer: r.issuer,
      serial: r.serial,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      replacedAt: r.replaced_at,
      pinned: r.fingerprint === pinned.fingerprint && r.issuer === (pinned.issuer ?? "")
    })
  )
