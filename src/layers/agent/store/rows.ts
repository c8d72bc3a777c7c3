/**
 * Rows as SQLite returns them, decoded into domain values through Schemas (a row that does not
 * decode is reported as `Storage`, never passed on half-checked), and the column lists they expect.
 */
import { Effect, Schema } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import { Direction, MessageState, Millis, type StoredMessage } from "../../../domain/agent/messages.js"
import type { OutboxPeer, RetryState } from "../../../domain/agent/retry.js"
import {
  ByteCount,
  FileEtag,
  IncomingTransferState,
  OutgoingTransferState,
  Sha256Hex,
  type Transfer
} from "../../../domain/agent/transfers.js"
import { Handle, Id } from "../../../domain/brands.js"

const NullableMillis = Schema.NullOr(Millis)
const NullableText = Schema.NullOr(Schema.String)

const malformed = (what: string) => (cause: unknown) =>
  new AgentStoreError({
    reason: "Storage",
    message: `The agent database holds a malformed ${what} row; check what else writes to it, or restore a backup.`,
    cause
  })

/** Decodes every row with `row`, then shapes each with `shape`; a bad row fails the whole read. */
export const decoder = <R, I, A>(what: string, row: Schema.Schema<R, I>, shape: (r: R) => A) => {
  const decode = Schema.decodeUnknown(Schema.Array(row))
  return (rows: ReadonlyArray<unknown>): Effect.Effect<Array<A>, AgentStoreError> =>
    decode(rows).pipe(
      Effect.map((decoded) => decoded.map(shape)),
      Effect.mapError(malformed(what))
    )
}

/** As `decoder`, for the synchronous bodies of `fastDb.ts`: throws the `AgentStoreError` instead. */
export const syncDecoder = <R, I, A>(what: string, row: Schema.Schema<R, I>, shape: (r: R) => A) => {
  const decode = Schema.decodeUnknownEither(Schema.Array(row))
  return (rows: ReadonlyArray<unknown>): Array<A> => {
    const decoded = decode(rows)
    if (decoded._tag === "Left") throw malformed(what)(decoded.left)
    return decoded.right.map(shape)
  }
}

// --- messages ----------------------------------------------------------------------------

export const MESSAGE_COLUMNS =
  "seq, id, peer, direction, body, state, at, created_at, sent_at, delivered_at, read_at, received_at, cancelled_at, expired_at, attempts"

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
  expired_at: NullableMillis,
  attempts: Schema.Int
})

const messageOf = (r: typeof MessageRow.Type): StoredMessage => ({
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
  expiredAt: r.expired_at,
  attempts: r.attempts
})

export const decodeMessages = decoder("message", MessageRow, messageOf)
/** `decodeMessages` for the synchronous bodies (throws `AgentStoreError`). */
export const decodeMessagesNow = syncDecoder("message", MessageRow, messageOf)

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
  "seq, direction, id, peer, name, offered_name, size, sha256, etag, chunk, path, temp_path, final_path, " +
  "byte_offset, state, detail, created_at, updated_at"

const TransferRow = Schema.Struct({
  seq: Schema.Int,
  direction: Direction,
  id: Id,
  peer: Handle,
  name: Schema.String,
  offered_name: Schema.String,
  size: ByteCount,
  sha256: Schema.NullOr(Sha256Hex),
  etag: FileEtag,
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
    etag: r.etag,
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
