/**
 * Rows as SQLite returns them, decoded into domain values through Schemas (a row that does not
 * decode is reported as `Storage`, never passed on half-checked), and the column lists they expect.
 */
import { Effect, Schema } from "effect"
import { type Contact, type KeyChange, KeyChangeStatus } from "../../../domain/agent/contacts.js"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import { Direction, MessageState, Millis, type StoredMessage } from "../../../domain/agent/messages.js"
import type { OutboxPeer, RetryState } from "../../../domain/agent/retry.js"
import {
  ByteCount,
  IncomingTransferState,
  OutgoingTransferState,
  Sha256Hex,
  type Transfer
} from "../../../domain/agent/transfers.js"
import { Fingerprint, Handle, Id } from "../../../domain/brands.js"

const NullableMillis = Schema.NullOr(Millis)
const NullableText = Schema.NullOr(Schema.String)

const malformed = (what: string) => (cause: unknown) =>
  new AgentStoreError({
    reason: "Storage",
    message: `The agent database holds a malformed ${what} row; check what else writes to it, or restore a backup.`,
    cause
  })

/** Decodes every row with `row`, then shapes each with `shape`; a bad row fails the whole read. */
const decoder = <R, I, A>(what: string, row: Schema.Schema<R, I>, shape: (r: R) => A) => {
  const decode = Schema.decodeUnknown(Schema.Array(row))
  return (rows: ReadonlyArray<unknown>): Effect.Effect<Array<A>, AgentStoreError> =>
    decode(rows).pipe(
      Effect.map((decoded) => decoded.map(shape)),
      Effect.mapError(malformed(what))
    )
}

// --- messages ----------------------------------------------------------------------------

export const MESSAGE_COLUMNS =
  "seq, id, peer, direction, body, state, at, created_at, sent_at, delivered_at, read_at, received_at, cancelled_at, attempts"

const MessageRow = Schema.Struct({
  seq: Schema.Int,
  id: Id,
  peer: Handle,
  direction: Direction,
  body: Schema.String,
  state: MessageState,
  at: Millis,
  created_at: Millis,
  sent_at: NullableMillis,
  delivered_at: NullableMillis,
  read_at: NullableMillis,
  received_at: NullableMillis,
  cancelled_at: NullableMillis,
  attempts: Schema.Int
})

export const decodeMessages = decoder(
  "message",
  MessageRow,
  (r): StoredMessage => ({
    seq: r.seq,
    id: r.id,
    peer: r.peer,
    direction: r.direction,
    body: r.body,
    state: r.state,
    at: r.at,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    deliveredAt: r.delivered_at,
    readAt: r.read_at,
    receivedAt: r.received_at,
    cancelledAt: r.cancelled_at,
    attempts: r.attempts
  })
)

// --- contacts and key changes ------------------------------------------------------------

export const KEY_CHANGE_COLUMNS = "seq, handle, at, previous, current, status, resolved_at"

const KeyChangeRow = Schema.Struct({
  seq: Schema.Int,
  handle: Handle,
  at: Millis,
  previous: Fingerprint,
  current: Fingerprint,
  status: KeyChangeStatus,
  resolved_at: NullableMillis
})

const keyChangeOf = (r: typeof KeyChangeRow.Type): KeyChange => ({
  seq: r.seq,
  handle: r.handle,
  at: r.at,
  previous: r.previous,
  current: r.current,
  status: r.status,
  resolvedAt: r.resolved_at
})

export const decodeKeyChanges = decoder("key change", KeyChangeRow, keyChangeOf)

/**
 * A contact with its summary: last message time, unread and outbox counts (each an indexed lookup),
 * and the newest pending key change (columns prefixed `kc_`, all null when there is none).
 */
export const CONTACT_SELECT = `
  SELECT c.handle, c.fingerprint, c.pinned_at, c.last_handshake_at, c.verification_code, c.verification_code_at,
    (SELECT MAX(m.at) FROM messages m WHERE m.peer = c.handle) AS last_message_at,
    (SELECT COUNT(*) FROM messages m WHERE m.peer = c.handle AND m.direction = 'in' AND m.state = 'received')
      AS unread,
    (SELECT COUNT(*) FROM messages m WHERE m.peer = c.handle AND m.direction = 'out'
      AND m.state IN ('queued', 'sent')) AS outbox,
    k.seq AS kc_seq, k.at AS kc_at, k.previous AS kc_previous, k.current AS kc_current,
    k.status AS kc_status, k.resolved_at AS kc_resolved_at
  FROM contacts c
  LEFT JOIN key_changes k
    ON k.seq = (SELECT MAX(seq) FROM key_changes WHERE handle = c.handle AND status = 'pending')`

const ContactRow = Schema.Struct({
  handle: Handle,
  fingerprint: Schema.NullOr(Fingerprint),
  pinned_at: NullableMillis,
  last_handshake_at: NullableMillis,
  verification_code: NullableText,
  verification_code_at: NullableMillis,
  last_message_at: NullableMillis,
  unread: Schema.Int,
  outbox: Schema.Int,
  kc_seq: Schema.NullOr(Schema.Int),
  kc_at: NullableMillis,
  kc_previous: Schema.NullOr(Fingerprint),
  kc_current: Schema.NullOr(Fingerprint),
  kc_status: Schema.NullOr(KeyChangeStatus),
  kc_resolved_at: NullableMillis
})

export const decodeContacts = decoder(
  "contact",
  ContactRow,
  (r): Contact => ({
    handle: r.handle,
    fingerprint: r.fingerprint,
    pinnedAt: r.pinned_at,
    lastHandshakeAt: r.last_handshake_at,
    verificationCode: r.verification_code,
    verificationCodeAt: r.verification_code_at,
    lastMessageAt: r.last_message_at,
    unread: r.unread,
    outbox: r.outbox,
    pendingKeyChange:
      r.kc_seq === null || r.kc_at === null || r.kc_previous === null || r.kc_current === null || r.kc_status === null
        ? null
        : keyChangeOf({
            seq: r.kc_seq,
            handle: r.handle,
            at: r.kc_at,
            previous: r.kc_previous,
            current: r.kc_current,
            status: r.kc_status,
            resolved_at: r.kc_resolved_at
          })
  })
)

// --- outbox peers and retry state --------------------------------------------------------

const RetryRow = Schema.Struct({
  peer: Handle,
  failures: Schema.Int,
  next_attempt_at: NullableMillis,
  last_error: NullableText,
  updated_at: Millis
})

export const decodeRetry = decoder(
  "retry",
  RetryRow,
  (r): RetryState => ({
    peer: r.peer,
    failures: r.failures,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    updatedAt: r.updated_at
  })
)

const OutboxPeerRow = Schema.Struct({
  peer: Handle,
  pending: Schema.Int,
  oldest_at: Millis,
  failures: Schema.NullOr(Schema.Int),
  next_attempt_at: NullableMillis,
  last_error: NullableText
})

export const decodeOutboxPeers = decoder(
  "outbox",
  OutboxPeerRow,
  (r): OutboxPeer => ({
    peer: r.peer,
    pending: r.pending,
    oldestAt: r.oldest_at,
    failures: r.failures ?? 0,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error
  })
)

// --- transfers ---------------------------------------------------------------------------

export const TRANSFER_COLUMNS =
  "seq, direction, id, peer, name, offered_name, size, sha256, chunk, path, temp_path, final_path, " +
  "byte_offset, state, detail, created_at, updated_at"

const TransferRow = Schema.Struct({
  seq: Schema.Int,
  direction: Direction,
  id: Id,
  peer: Handle,
  name: Schema.String,
  offered_name: Schema.String,
  size: ByteCount,
  sha256: Sha256Hex,
  chunk: Schema.Int,
  path: NullableText,
  temp_path: NullableText,
  final_path: NullableText,
  byte_offset: ByteCount,
  state: Schema.Union(OutgoingTransferState, IncomingTransferState),
  detail: NullableText,
  created_at: Millis,
  updated_at: Millis
}).pipe(
  Schema.filter((r) => {
    if (r.direction === "out") {
      return (r.path !== null && Schema.is(OutgoingTransferState)(r.state)) || "an outgoing transfer without its path"
    }
    return (
      (r.temp_path !== null && Schema.is(IncomingTransferState)(r.state)) ||
      "an incoming transfer without its temp path"
    )
  })
)

export const decodeTransfers = decoder("transfer", TransferRow, (r): Transfer => {
  const common = {
    seq: r.seq,
    peer: r.peer,
    id: r.id,
    size: r.size,
    sha256: r.sha256,
    chunk: r.chunk,
    detail: r.detail,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }
  return r.direction === "out"
    ? {
        ...common,
        direction: "out",
        path: r.path ?? "",
        name: r.name,
        ackedOffset: r.byte_offset,
        state: r.state as typeof OutgoingTransferState.Type
      }
    : {
        ...common,
        direction: "in",
        offeredName: r.offered_name,
        name: r.name,
        tempPath: r.temp_path ?? "",
        finalPath: r.final_path,
        receivedOffset: r.byte_offset,
        state: r.state as typeof IncomingTransferState.Type
      }
})
