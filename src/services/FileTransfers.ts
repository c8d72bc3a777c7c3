/**
 * FileTransfers: the User Agent's file-transfer plugin (PROTOCOL.md §15): offers, accepts, cancels and
 * progress, with its one error. Implemented by `layers/agent/files/FileTransfers.ts`.
 */
import { Context, Data, type Effect, type Stream } from "effect"
import type { OutgoingTransfer, Transfer, TransferRef, TransferState } from "../domain/agent/transfers.js"
import type { Handle, Id } from "../domain/brands.js"
import type { PeerLink, SessionPlugin } from "./SessionPlugin.js"

export class FileTransferError extends Data.TaggedError("FileTransferError")<{
  readonly reason:
    | "NotFound" // no such file to send, or no such transfer
    | "BadRequest" // not a regular file, a transfer in the wrong state
    | "Io" // reading or writing a file failed
    | "Storage" // the agent store failed
  /** One sentence that says what went wrong and what to do. */
  readonly message: string
  readonly cause?: unknown
}> {}

/** One progress sample for a progress bar: the store's events with a smoothed rate and an ETA. */
export interface FileProgress {
  readonly ref: TransferRef
  readonly bytes: number
  readonly total: number
  /** Bytes per second (0 until known). */
  readonly rate: number
  /** Seconds left; `undefined` until a rate is known. */
  readonly eta: number | undefined
  /** Set when the sample comes from a state change (`done`, `failed`, …). */
  readonly state: TransferState | undefined
}

export interface FileTransfersService {
  /** Register with the session manager. */
  readonly plugin: SessionPlugin
  /**
   * Stats the file (size and etag; it is hashed while it streams), stores the offer and sends `<FileOffer>` on `link` or the
   * peer's live session; without one, asks `options.connect`. Streaming starts on `<FileAccept>`.
   */
  readonly sendFile: (
    peer: Handle,
    path: string,
    link?: PeerLink | undefined
  ) => Effect.Effect<OutgoingTransfer, FileTransferError>
  /** Accepts a held incoming offer (see `AcceptPolicy`). */
  readonly accept: (ref: TransferRef) => Effect.Effect<void, FileTransferError>
  /**
   * Cancels a transfer either way: stops it, removes a partial download, stores `cancelled` and
   * sends `<FileCancel reason="user_cancelled">` when a session is up. A finished one comes back as it is.
   */
  readonly cancel: (ref: TransferRef) => Effect.Effect<Transfer, FileTransferError>
  /** `cancel` by id alone (`Agent.cancel`): every unfinished transfer with that id; `[]` when none. */
  readonly cancelId: (id: Id) => Effect.Effect<ReadonlyArray<Transfer>, FileTransferError>
  /**
   * Gives up every unfinished outgoing transfer without progress since `updatedBefore` (issue 13,
   * item 4): `failed` with `detail`, `<FileCancel reason="expired">` when a session is up. Returns them.
   */
  readonly expire: (updatedBefore: number, detail: string) => Effect.Effect<ReadonlyArray<Transfer>, FileTransferError>
  /** Peers with unfinished outgoing transfers (for the core to dial, like peers with an outbox). */
  readonly pendingPeers: Effect.Effect<ReadonlyArray<Handle>, FileTransferError>
  /** Progress of every transfer, from when the stream starts. */
  readonly progress: Stream.Stream<FileProgress>
}

export class FileTransfers extends Context.Tag("sixchat/FileTransfers")<FileTransfers, FileTransfersService>() {}
