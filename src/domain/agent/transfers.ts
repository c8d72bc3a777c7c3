/**
 * File transfers as the User Agent stores them (PROTOCOL.md §15, `FileOffer` … `FileAck`; issue 4,
 * section 3): enough to resume from the received offset after a broken connection or a restart.
 * Pure: schemas and the state machine.
 */
import { Schema } from "effect"
import { Handle, Id } from "../brands.js"
import { Direction, Instant } from "./messages.js"

/**
 * A byte count or offset. Kept as a JS number: exact up to 2^53 - 1 bytes (8 PiB), far past any
 * file; the wire's `bigint` sizes are converted (and refused above that) at the protocol boundary.
 */
export const ByteCount = Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))
export type ByteCount = typeof ByteCount.Type

/** SHA-256 as 64 lower-case hex digits. */
export const Sha256Hex = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/), Schema.brand("Sha256Hex"))
export type Sha256Hex = typeof Sha256Hex.Type

/**
 * The validator a `<FileOffer etag>` carries (docs/PROTOCOL.md 5.4.1): opaque to the receiver, 1 to
 * 64 characters of `[A-Za-z0-9_.-]`. This implementation derives it from the file's size, mtime and
 * inode (`fileEtag` in the sender), rsync's quick check.
 */
export const FileEtag = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.-]{1,64}$/), Schema.brand("FileEtag"))
export type FileEtag = typeof FileEtag.Type

/**
 * Outgoing: `offered` (`<FileOffer>` sent or to be sent) → `accepted` (`<FileAccept offset>` came)
 * → `sending` → `done` (`<FileAck>` came: the receiver checked the SHA-256).
 */
export const OutgoingTransferState = Schema.Literal("offered", "accepted", "sending", "done", "cancelled", "failed")
export type OutgoingTransferState = typeof OutgoingTransferState.Type

/**
 * Incoming: `offered` (awaiting the accept policy or the user) → `accepted` (`<FileAccept>` sent)
 * → `receiving` → `verifying` (`<FileDone>` came; hashing) → `done` (moved to `finalPath`, `<FileAck>` sent).
 */
export const IncomingTransferState = Schema.Literal(
  "offered",
  "accepted",
  "receiving",
  "verifying",
  "done",
  "cancelled",
  "failed"
)
export type IncomingTransferState = typeof IncomingTransferState.Type

export type TransferState = OutgoingTransferState | IncomingTransferState

/** Terminal states: nothing moves a transfer out of them. */
export const TERMINAL_TRANSFER_STATES: ReadonlyArray<TransferState> = ["done", "cancelled", "failed"]
export const isTerminalTransfer = (state: TransferState): boolean => TERMINAL_TRANSFER_STATES.includes(state)

/**
 * The transfer state machine. Between live states any move is allowed (a broken connection sends a
 * `sending` transfer back to `offered` or `accepted` when it resumes; a failed hash check can send a
 * `verifying` one back to `accepted` at offset 0). A terminal state is final: the same terminal state
 * again is `Unchanged` (idempotent), any other move is `Refused`.
 */
export const nextTransfer = (
  from: TransferState,
  to: TransferState
): { readonly _tag: "Changed" } | { readonly _tag: "Unchanged" } | { readonly _tag: "Refused" } =>
  from === to ? { _tag: "Unchanged" } : isTerminalTransfer(from) ? { _tag: "Refused" } : { _tag: "Changed" }

/** Identifies a transfer: ids are chosen by the sender, so an incoming one is unique per peer. */
export const TransferRef = Schema.Struct({ direction: Direction, peer: Handle, id: Id })
export type TransferRef = typeof TransferRef.Type

const common = {
  seq: Schema.Int,
  peer: Handle,
  id: Id,
  size: ByteCount,
  /**
   * The whole file's SHA-256: `null` until known. Outgoing, once the sender has streamed (and hashed)
   * every byte; incoming, once `<FileDone sha256>` matched what was written (docs/PROTOCOL.md 5.4.3).
   */
  sha256: Schema.NullOr(Sha256Hex),
  /** The offer's validator (`<FileOffer etag>`): the file is the one offered while it matches. */
  etag: FileEtag,
  /** Bytes per data record, as offered (1 .. 65 536). */
  chunk: Schema.Int,
  detail: Schema.NullOr(Schema.String),
  createdAt: Instant,
  updatedAt: Instant
}

export const OutgoingTransfer = Schema.Struct({
  ...common,
  direction: Schema.Literal("out"),
  /** The local file being sent. */
  path: Schema.String,
  /** The name offered to the peer. */
  name: Schema.String,
  /** How far the receiver is known to have the file (its `<FileAccept offset>`, then our progress). */
  ackedOffset: ByteCount,
  state: OutgoingTransferState
})
export type OutgoingTransfer = typeof OutgoingTransfer.Type

export const IncomingTransfer = Schema.Struct({
  ...common,
  direction: Schema.Literal("in"),
  /** The name as the peer offered it: for display only, never a path. */
  offeredName: Schema.String,
  /** `safeFileName(offeredName)`: what the file is saved as (before de-duplication). */
  name: Schema.String,
  /** Where the bytes are written while they arrive. */
  tempPath: Schema.String,
  /** Where the verified file landed (`null` until `done`). */
  finalPath: Schema.NullOr(Schema.String),
  /** Bytes known to be in `tempPath`: resume from here (see `AgentStore.fileProgress`). */
  receivedOffset: ByteCount,
  state: IncomingTransferState
})
export type IncomingTransfer = typeof IncomingTransfer.Type

export const Transfer = Schema.Union(OutgoingTransfer, IncomingTransfer)
export type Transfer = typeof Transfer.Type

/** The transfer's key. */
export const transferRef = (t: Transfer): TransferRef => ({ direction: t.direction, peer: t.peer, id: t.id })

/** The transfer's current offset, whichever direction. */
export const transferOffset = (t: Transfer): number => (t.direction === "out" ? t.ackedOffset : t.receivedOffset)
