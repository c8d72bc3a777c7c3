/**
 * Agent: what a running User Agent offers its user (issue 4). The control socket maps JSON-RPC 2.0
 * methods onto it one to one; tests drive it directly. Implemented by `layers/agent/AgentLive`.
 */
import { Context, Data, type Effect, Schema, type Stream } from "effect"
import { Contact, KeyChange } from "../domain/agent/contacts.js"
import type { DomainKeyChange, DomainName } from "../domain/agent/domainRoots.js"
import { StoreEvent } from "../domain/agent/events.js"
import { Instant, StoredMessage } from "../domain/agent/messages.js"
import type { DomainInfoResult, LookupResult, OutboxItem } from "../domain/agent/rpc.js"
import { Transfer } from "../domain/agent/transfers.js"
import { Address, Fingerprint, Handle, Id } from "../domain/brands.js"

export class AgentError extends Data.TaggedError("AgentError")<{
  readonly reason: "NotFound" | "BadRequest" | "Refused" | "Storage" | "Unavailable"
  /** One sentence that says what to do next. */
  readonly message: string
  readonly cause?: unknown
}> {}

/** One live session with a peer. */
export const SessionSummary = Schema.Struct({
  peer: Handle,
  role: Schema.Literal("initiator", "responder"),
  remote: Address,
  since: Instant,
  fingerprint: Fingerprint,
  /** The session code (PROTOCOL.md section 10.2): per session; the safety number is per pair of keys. */
  sessionCode: Schema.String
})
export type SessionSummary = typeof SessionSummary.Type

export const AgentStatus = Schema.Struct({
  handle: Handle,
  deviceId: Schema.String,
  fingerprint: Fingerprint,
  listening: Schema.Array(Address),
  /** What the IRP holds for this device now. */
  registered: Schema.Array(Address),
  registrationExpiresAt: Schema.optional(Instant),
  /** Set when the IRP saw us from an address we did not register (a NAT is likely in the way). */
  natSuspected: Schema.optional(Address),
  sessions: Schema.Array(SessionSummary),
  outbox: Schema.Number,
  /** Outgoing messages and file offers that expired undelivered (issue 13, item 4); absent from older agents. */
  failed: Schema.optional(Schema.Number)
})
export type AgentStatus = typeof AgentStatus.Type

/** Everything a subscriber hears: store changes plus live-session events. */
export const AgentEvent = Schema.Union(
  StoreEvent,
  Schema.TaggedStruct("agent.SessionUp", { session: SessionSummary }),
  Schema.TaggedStruct("agent.SessionDown", { peer: Handle, reason: Schema.String }),
  Schema.TaggedStruct("agent.Typing", { peer: Handle, state: Schema.Literal("active", "paused") }),
  Schema.TaggedStruct("agent.Presence", { message: Schema.String })
)
export type AgentEvent = typeof AgentEvent.Type

export interface AgentService {
  /** Stores the message in the outbox and returns (delivery happens in the background). */
  readonly send: (peer: Handle, body: string) => Effect.Effect<StoredMessage, AgentError>
  /** Offers a file (the agent streams it once the peer accepts; resumes after breaks). */
  readonly sendFile: (peer: Handle, path: string) => Effect.Effect<Transfer, AgentError>
  /**
   * Whether `peer` can be written to (issue 13, item 4): asks the IRP. `Unavailable` when the IRP
   * cannot be reached. Creates no contact.
   */
  readonly lookup: (peer: Handle) => Effect.Effect<LookupResult, AgentError>
  /** What waits for delivery (messages, then files offered), oldest first. */
  readonly outbox: (query: {
    readonly peer?: Handle | undefined
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<OutboxItem>, AgentError>
  /**
   * Cancels one waiting item and returns it (state `cancelled`): `NotFound` when nothing waiting has
   * that id, `Refused` when it was delivered (or has otherwise left the outbox).
   */
  readonly outboxCancel: (id: Id) => Effect.Effect<OutboxItem, AgentError>
  /** Cancels a queued message or a file transfer (either direction). */
  readonly cancel: (id: Id) => Effect.Effect<void, AgentError>
  /** Accepts an incoming file the policy held (PROTOCOL.md 5.4.7): now if its sender is connected, else when it offers again. */
  readonly acceptFile: (peer: Handle, id: Id) => Effect.Effect<void, AgentError>
  readonly history: (query: {
    readonly peer?: Handle | undefined
    readonly limit?: number | undefined
    readonly before?: { readonly at: number; readonly seq: number } | undefined
  }) => Effect.Effect<ReadonlyArray<StoredMessage>, AgentError>
  readonly contacts: Effect.Effect<ReadonlyArray<Contact>, AgentError>
  /** A contact with its safety number, verified mark, key history and the last session's code. */
  readonly contact: (peer: Handle) => Effect.Effect<Contact, AgentError>
  /**
   * `sixchat contact verify`: marks the contact verified when `safetyNumber` is the current one
   * (`BadRequest` otherwise: a key changed since it was shown). Returns the contact.
   */
  readonly verify: (peer: Handle, safetyNumber: string) => Effect.Effect<Contact, AgentError>
  /** Key changes of one contact, or everyone's, oldest first (for `history` and `chat`). */
  readonly keyChanges: (peer?: Handle) => Effect.Effect<ReadonlyArray<KeyChange>, AgentError>
  /** Accepts a peer's changed key (`sixchat trust HANDLE`). */
  readonly trust: (peer: Handle) => Effect.Effect<void, AgentError>
  /**
   * A domain's federation policy and CA as the home IRP relays them (PROTOCOL.md §22.3.1, §22.4), observed
   * like any relayed root (pinned on first use; a change is a domain key change). `Refused` when the IRP
   * refuses (`federation_refused`, its sentence), `Unavailable` when it or the domain cannot be reached.
   */
  readonly domainInfo: (domain: DomainName) => Effect.Effect<DomainInfoResult, AgentError>
  /** `sixchat trust @D`: accepts a domain's changed CA (PROTOCOL.md §22.3.3). */
  readonly trustDomain: (domain: DomainName) => Effect.Effect<DomainKeyChange, AgentError>
  /** Root changes of one domain, or every domain's, oldest first (for `history`, `chat`, `contacts`). */
  readonly domainKeyChanges: (domain?: DomainName) => Effect.Effect<ReadonlyArray<DomainKeyChange>, AgentError>
  /** Marks a conversation read; sends `<Read>` receipts when they are on. Returns how many. */
  readonly markRead: (peer: Handle) => Effect.Effect<number, AgentError>
  /** Sends a typing notice when they are on (best effort: no session, no notice). */
  readonly typing: (peer: Handle, state: "active" | "paused") => Effect.Effect<void, AgentError>
  readonly transfers: (peer?: Handle) => Effect.Effect<ReadonlyArray<Transfer>, AgentError>
  readonly status: Effect.Effect<AgentStatus, AgentError>
  /** Live events until the subscriber's scope closes. */
  readonly events: Stream.Stream<AgentEvent>
}

export class Agent extends Context.Tag("sixchat/Agent")<Agent, AgentService>() {}

export { Contact, Id, KeyChange, StoredMessage, Transfer }
