/**
 * AgentStore: the User Agent's durable state (PROTOCOL.md §§13 and 15; issue 4, sections 1-3):
 * contacts and pinned keys, messages both ways with their delivery state, the outbox, retry
 * schedules and file transfers, plus a change feed. One implementation:
 * `layers/agent/store/AgentStoreLive` (SQLite in the identity home).
 *
 * The delivery contract (PROTOCOL.md §15) it serves:
 * * send: `enqueue` (durable once it returns) → write `<Message>` → `markSent`; on `<Ack>`:
 *   `markDelivered`. After any reconnect or restart, resend `outbox(peer)` (oldest first) with the
 *   same ids and `createdAt` stamps.
 * * receive: `receive` (durable once it returns), THEN send `<Ack>`, whether it said `new` or
 *   `duplicate`.
 *
 * Every time (`now`) is epoch milliseconds supplied by the caller, who reads the Effect `Clock`, so
 * tests drive time with `TestClock`. Methods have no requirements (`R = never`).
 */
import { Context, type Effect, type Queue, type Scope, type Stream } from "effect"
import type { Contact, ContactKey, IssuerId, KeyChange, PinResult } from "../domain/agent/contacts.js"
import type {
  DomainKeyChange,
  DomainName,
  DomainPin,
  DomainPinResult,
  PresentedRoot
} from "../domain/agent/domainRoots.js"
import type { AgentStoreError } from "../domain/agent/errors.js"
import type { StoreEvent } from "../domain/agent/events.js"
import type { HistoryCursor, MarkOutcome, ReceiveOutcome, StoredMessage } from "../domain/agent/messages.js"
import type { OutboxPeer, RetryState } from "../domain/agent/retry.js"
import type {
  FileEtag,
  IncomingTransfer,
  OutgoingTransfer,
  Sha256Hex,
  Transfer,
  TransferRef,
  TransferState
} from "../domain/agent/transfers.js"
import type { Fingerprint, Handle, Id } from "../domain/brands.js"

export interface AgentStoreService {
  // --- contacts and keys (PROTOCOL.md §13) ---

  /**
   * After a successful handshake: pins the peer's SPKI fingerprint on first contact (`New`), confirms
   * it (`Same`) or records a key change (`Changed`). A change is pending unless `acceptChange` is
   * true (non-strict mode), in which case the pin moves at once. With a pending change the caller
   * MUST refuse the session (PROTOCOL.md §13, strict mode) until `acceptKey`. Seeing the same new
   * key again does not record a second change.
   */
  readonly pinContact: (input: {
    readonly handle: Handle
    readonly fingerprint: Fingerprint
    /**
     * The rest of the chain (PROTOCOL.md section 13.5): the issuing CA's id, the leaf SPKI DER
     * (base64, for the safety number) and serial. Without it the issuer counts as unknown.
     */
    readonly chain?: { readonly issuer: IssuerId; readonly spki: string; readonly serial: string } | undefined
    readonly now: number
    readonly acceptChange?: boolean | undefined
  }) => Effect.Effect<PinResult, AgentStoreError>
  /**
   * `sixchat trust HANDLE`: moves the pin to the newest pending key (other pending ones become
   * `superseded`). With `fingerprint`, only if that is the pending key (`Conflict` otherwise), so
   * the user accepts the key they compared. `NotFound` / `NoKeyChange` when there is nothing to accept.
   */
  readonly acceptKey: (input: {
    readonly handle: Handle
    readonly fingerprint?: Fingerprint | undefined
    readonly now: number
  }) => Effect.Effect<KeyChange, AgentStoreError>
  /**
   * `sixchat contact verify`: the safety number of our key `own` and the contact's pinned key
   * `fingerprint` was compared. `Conflict` when the pin is no longer `fingerprint` (it changed while
   * the number was on screen); `NotFound` without a pinned key. A later key change drops the mark.
   */
  readonly verifyContact: (input: {
    readonly handle: Handle
    readonly fingerprint: Fingerprint
    readonly own: Fingerprint
    readonly now: number
  }) => Effect.Effect<void, AgentStoreError>
  /** Keeps the last session's code (section 10.2) for `sixchat contact show`. `NotFound` for an unknown handle. */
  readonly recordSessionCode: (input: {
    readonly handle: Handle
    readonly code: string
    readonly now: number
  }) => Effect.Effect<void, AgentStoreError>
  readonly contact: (handle: Handle) => Effect.Effect<Contact | undefined, AgentStoreError>
  /** Every known peer, most recent conversation first (never-messaged ones last, by handle). */
  readonly contacts: () => Effect.Effect<ReadonlyArray<Contact>, AgentStoreError>
  /** Every chain the handle presented (its key history), oldest first. */
  readonly contactKeys: (handle: Handle) => Effect.Effect<ReadonlyArray<ContactKey>, AgentStoreError>
  /** The handle's key changes (everyone's without a handle), oldest first. */
  readonly keyChanges: (handle?: Handle) => Effect.Effect<ReadonlyArray<KeyChange>, AgentStoreError>

  // --- foreign domains' roots (PROTOCOL.md §22.3.3) ---

  /** The pinned root of `domain`, with a change waiting for the user, if any. */
  readonly domainPin: (domain: DomainName) => Effect.Effect<DomainPin | undefined, AgentStoreError>
  /** Every pinned domain, by name. */
  readonly domainPins: () => Effect.Effect<ReadonlyArray<DomainPin>, AgentStoreError>
  /**
   * A root for `domain` came from the home IRP: pinned on first use (`New`), confirmed (`Same`), or a
   * domain key change (`Changed`), accepted at once with `acceptChange`, else held until
   * `acceptDomainRoot`. Seeing the same held root again records no second change.
   */
  readonly observeDomainRoot: (input: {
    readonly domain: DomainName
    readonly root: PresentedRoot
    readonly now: number
    readonly acceptChange?: boolean | undefined
  }) => Effect.Effect<DomainPinResult, AgentStoreError>
  /** `sixchat trust @D`: the pin moves to the newest held root. `NotFound` / `NoKeyChange` when nothing waits. */
  readonly acceptDomainRoot: (input: {
    readonly domain: DomainName
    readonly now: number
  }) => Effect.Effect<DomainKeyChange, AgentStoreError>
  /** The domain's root changes (every domain's without one), oldest first. */
  readonly domainKeyChanges: (domain?: DomainName) => Effect.Effect<ReadonlyArray<DomainKeyChange>, AgentStoreError>

  // --- outgoing messages (PROTOCOL.md §15) ---

  /**
   * Stores a new outgoing message in the outbox (`queued`), durably (see the layer's notes on
   * `synchronous = FULL`). Idempotent on `id`: the same id, peer and body again returns the stored
   * message; another peer or body under that id is a `Conflict`.
   */
  readonly enqueue: (input: {
    readonly id: Id
    readonly peer: Handle
    readonly body: string
    readonly now: number
  }) => Effect.Effect<StoredMessage, AgentStoreError>
  /** The message was written to a channel: `queued` → `sent`, counts the attempt. Cancelled or acknowledged ones stay as they are. */
  readonly markSent: (input: { readonly id: Id; readonly now: number }) => Effect.Effect<MarkOutcome, AgentStoreError>
  /** `markSent` for a page of messages written to a channel, in one transaction (at most 256). */
  readonly markSentMany: (input: {
    readonly ids: ReadonlyArray<Id>
    readonly now: number
  }) => Effect.Effect<void, AgentStoreError>
  /**
   * `<Ack>` from `peer`: the message leaves the outbox (`delivered`) and the peer's retry backoff is
   * reset. Idempotent; an Ack for an id this agent never sent to `peer` is `unknown` and changes nothing.
   */
  readonly markDelivered: (input: {
    readonly peer: Handle
    readonly id: Id
    readonly now: number
  }) => Effect.Effect<MarkOutcome, AgentStoreError>
  /** `markDelivered` for a run of `<Ack>`s from `peer`, in one transaction (at most 256); outcomes in input order. */
  readonly markDeliveredMany: (input: {
    readonly peer: Handle
    readonly ids: ReadonlyArray<Id>
    readonly now: number
  }) => Effect.Effect<ReadonlyArray<MarkOutcome>, AgentStoreError>
  /** `<Read>` from `peer` (implies delivery). Same rules as `markDelivered`. */
  readonly markRead: (input: {
    readonly peer: Handle
    readonly id: Id
    readonly now: number
  }) => Effect.Effect<MarkOutcome, AgentStoreError>
  /**
   * Withdraws a message not yet delivered and returns it (`cancelled`; `sentAt !== null` means it
   * may have reached the peer anyway, and a late `<Ack>` will then show it `delivered`). `TooLate`
   * once delivered, `NotFound` for an unknown id.
   */
  readonly cancel: (input: { readonly id: Id; readonly now: number }) => Effect.Effect<StoredMessage, AgentStoreError>
  /**
   * Unacknowledged messages (`queued` or `sent`) in send order, what to (re)send after a reconnect;
   * page with `after` = the last `seq` seen (default limit 500).
   */
  readonly outbox: (input?: {
    readonly peer?: Handle | undefined
    readonly after?: number | undefined
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<StoredMessage>, AgentStoreError>
  /** Peers with messages waiting and their retry schedule, the most overdue first (`nextAttemptAt` null first). */
  readonly peersWithOutbox: () => Effect.Effect<ReadonlyArray<OutboxPeer>, AgentStoreError>
  /**
   * A delivery attempt to `peer` failed (dial, handshake or connection lost with messages waiting):
   * counts it and schedules the next one after `retryDelay(policy, failures, random)`.
   */
  readonly recordDeliveryFailure: (input: {
    readonly peer: Handle
    readonly error: string
    readonly random: number
    readonly now: number
  }) => Effect.Effect<RetryState, AgentStoreError>
  /** Retry `peer` at once (the IRP reported a new binding); keeps the failure count. */
  readonly retryNow: (input: { readonly peer: Handle; readonly now: number }) => Effect.Effect<void, AgentStoreError>
  /**
   * Gives up every message still in the outbox that was written at or before `createdBefore`:
   * `queued`/`sent` → `expired` (issue 13, item 4), oldest first. A later `<Ack>` still marks one delivered.
   */
  readonly expireOutbox: (input: {
    readonly createdBefore: number
    readonly now: number
  }) => Effect.Effect<ReadonlyArray<StoredMessage>, AgentStoreError>
  /** Outgoing messages that expired and outgoing files that failed, for `status`. */
  readonly failedCount: () => Effect.Effect<number, AgentStoreError>
  /** Forget `peer`'s failures (a session was established). */
  readonly resetRetry: (peer: Handle) => Effect.Effect<void, AgentStoreError>

  // --- incoming messages ---

  /**
   * Stores an incoming message, durably, deduplicated by (peer, id). The caller sends `<Ack>` after
   * this returns, for `new` and `duplicate` alike (PROTOCOL.md §15). `createdAt` is the wire's
   * `<Message sent>` (see `timestampMillis`).
   */
  readonly receive: (input: {
    readonly id: Id
    readonly peer: Handle
    readonly body: string
    readonly createdAt: number
    readonly now: number
  }) => Effect.Effect<ReceiveOutcome, AgentStoreError>
  /**
   * `receive` for a run of messages from one peer, in ONE durable transaction (group commit: one
   * fsync for the lot); outcomes in input order. The caller sends each `<Ack>` after this returns.
   * At most 256 messages; an unusable `createdAt` refuses the whole batch (`InvalidArgument`).
   */
  readonly receiveMany: (input: {
    readonly peer: Handle
    readonly messages: ReadonlyArray<{ readonly id: Id; readonly body: string; readonly createdAt: number }>
    readonly now: number
  }) => Effect.Effect<ReadonlyArray<ReceiveOutcome>, AgentStoreError>
  /** This user read the message (`received` → `read`); the caller sends `<Read>` if receipts are on. */
  readonly markReadByMe: (input: {
    readonly peer: Handle
    readonly id: Id
    readonly now: number
  }) => Effect.Effect<MarkOutcome, AgentStoreError>
  /** Marks every unread message from `peer` read; returns their ids (to send `<Read>` for), oldest first. */
  readonly markConversationRead: (input: {
    readonly peer: Handle
    readonly now: number
  }) => Effect.Effect<ReadonlyArray<Id>, AgentStoreError>

  // --- history ---

  /**
   * Messages each once, in history order (`at`, then `seq`; see `historyTime`), oldest first: the
   * `limit` (default 100, at most 1000) latest ones before `before`, of one peer or all.
   */
  readonly history: (input?: {
    readonly peer?: Handle | undefined
    readonly limit?: number | undefined
    readonly before?: HistoryCursor | undefined
  }) => Effect.Effect<ReadonlyArray<StoredMessage>, AgentStoreError>
  readonly outgoing: (id: Id) => Effect.Effect<StoredMessage | undefined, AgentStoreError>
  /**
   * Whether the user has written to `peer`: an outgoing message (not cancelled) or an outgoing file
   * exists (the auto-accept policy's "known", issue 10 section 5).
   */
  readonly wroteTo: (peer: Handle) => Effect.Effect<boolean, AgentStoreError>
  readonly incoming: (peer: Handle, id: Id) => Effect.Effect<StoredMessage | undefined, AgentStoreError>

  // --- file transfers (PROTOCOL.md §15) ---

  /** Records a file this user offers. Idempotent on (peer, id); `Conflict` when that id holds another file. */
  readonly offerFile: (input: {
    readonly id: Id
    readonly peer: Handle
    readonly path: string
    readonly name: string
    readonly size: number
    /** The offer's validator (docs/PROTOCOL.md 5.4.1). */
    readonly etag: FileEtag
    readonly chunk: number
    readonly now: number
  }) => Effect.Effect<OutgoingTransfer, AgentStoreError>
  /**
   * Records a `<FileOffer>` from `peer`; the stored name is `safeFileName(offeredName)`. An offer
   * already stored (the sender resumes after a reconnect or restart) comes back as `existing`, with
   * its `receivedOffset` to accept from. `Conflict` if that id was offered with another size or etag.
   */
  readonly receiveFileOffer: (input: {
    readonly id: Id
    readonly peer: Handle
    readonly offeredName: string
    readonly size: number
    readonly etag: FileEtag
    readonly chunk: number
    readonly tempPath: string
    readonly now: number
  }) => Effect.Effect<{ readonly outcome: "new" | "existing"; readonly transfer: IncomingTransfer }, AgentStoreError>
  /**
   * Bytes moved: incoming, how much of `tempPath` is written; outgoing, how far the receiver has it.
   * Cheap, meant for every chunk: kept in memory, written to the database at most about once a
   * second or every few MiB per transfer (without waiting for the disk), at every `fileState`, and
   * when the store closes. After a crash the stored offset may lag: resume from the smaller of it
   * and the temporary file's length. `InvalidArgument` past the end, `NotFound` for an unknown transfer.
   */
  readonly fileProgress: (input: {
    readonly ref: TransferRef
    readonly offset: number
    readonly now: number
  }) => Effect.Effect<void, AgentStoreError>
  /**
   * Moves a transfer to `state` (see `nextTransfer`; `InvalidTransition` out of a terminal state),
   * durably, optionally setting its offset (a resume point or a reset), a detail (why it failed)
   * and, for an incoming transfer reaching `done`, where the file landed, and the whole file's
   * SHA-256 once known (outgoing: streamed; incoming: checked).
   */
  readonly fileState: (input: {
    readonly ref: TransferRef
    readonly state: TransferState
    readonly now: number
    readonly offset?: number | undefined
    readonly detail?: string | undefined
    readonly finalPath?: string | undefined
    readonly sha256?: Sha256Hex | undefined
  }) => Effect.Effect<Transfer, AgentStoreError>
  readonly transfer: (ref: TransferRef) => Effect.Effect<Transfer | undefined, AgentStoreError>
  /** Transfers oldest first, of one peer or all; `active` keeps the unfinished ones (to resume after a restart). */
  readonly transfers: (input?: {
    readonly peer?: Handle | undefined
    readonly active?: boolean | undefined
  }) => Effect.Effect<ReadonlyArray<Transfer>, AgentStoreError>

  // --- change feed ---

  /**
   * A subscription to store events, active as soon as this returns and until the scope closes. A
   * subscriber more than a few thousand events behind loses the oldest ones.
   */
  readonly subscribe: Effect.Effect<Queue.Dequeue<StoreEvent>, never, Scope.Scope>
  /** The same feed as a stream (subscribed when the stream starts). */
  readonly changes: Stream.Stream<StoreEvent>
}

export class AgentStore extends Context.Tag("sixchat/AgentStore")<AgentStore, AgentStoreService>() {}
