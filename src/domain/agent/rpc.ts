/**
 * The agent's control protocol (issue 4, section 1 "Local control"; `docs/CONTROL.md`): JSON-RPC 2.0
 * (https://www.jsonrpc.org/specification), one JSON text per line, over the Unix domain socket
 * `H/agent.sock`, in the manner of signal-cli's daemon. Pure: the envelope, the error codes and the
 * params of every method, plus the results defined in the domain. The results that the `Agent` port
 * defines (`status`, events) are added in `layers/agent/control/methods.ts`.
 */
import { Schema } from "effect"
import { Handle, Id } from "../brands.js"
import { MessageBody } from "../e2e/messages.js"
import { FederationMode } from "../federation/policy.js"
import { Contact, KeyChange } from "./contacts.js"
import { DomainKeyChange, DomainName, DomainPin } from "./domainRoots.js"
import { HISTORY_MAX_LIMIT, Instant, StoredMessage } from "./messages.js"
import { Transfer } from "./transfers.js"

/** The socket's file name inside the identity home. */
export const CONTROL_SOCKET_FILE = "agent.sock"

/** Longest request line the server reads, in bytes without the newline; a longer one ends the connection. */
export const MAX_REQUEST_LINE_BYTES = 1024 * 1024

/** The notification method that carries subscribed events. */
export const EVENT_METHOD = "event"

/** A request id: JSON-RPC allows a string, a number or null (discouraged); absent makes a notification. */
export const RequestId = Schema.Union(Schema.String, Schema.Number, Schema.Null)
export type RequestId = typeof RequestId.Type

/**
 * A request as it arrives. `params` must be an object (by-name parameters) or absent; by-position
 * arrays are refused with `InvalidParams` since every method names its parameters.
 */
export const RpcRequest = Schema.Struct({
  jsonrpc: Schema.Literal("2.0"),
  id: Schema.optional(RequestId),
  method: Schema.String,
  params: Schema.optional(Schema.Unknown)
})
export type RpcRequest = typeof RpcRequest.Type

export const RpcErrorObject = Schema.Struct({
  code: Schema.Int,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
})
export type RpcErrorObject = typeof RpcErrorObject.Type

/**
 * Error codes: the five of JSON-RPC 2.0 section 5.1, and one per `AgentError` reason in the range the
 * specification leaves to implementations (-32000 .. -32099). `data.reason` repeats the reason.
 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The server is at its client limit; the connection is closed after this error. */
  Busy: -32000,
  NotFound: -32001,
  BadRequest: -32002,
  Refused: -32003,
  Storage: -32004,
  Unavailable: -32005
} as const

/** `AgentError` reasons, as `data.reason` of application errors. */
export const AgentErrorReason = Schema.Literal("NotFound", "BadRequest", "Refused", "Storage", "Unavailable")
export type AgentErrorReason = typeof AgentErrorReason.Type

/** Application error code of an `AgentError` reason. */
export const agentErrorCode = (reason: AgentErrorReason): number => ErrorCode[reason]

/** The reason of an application error code, if it is one. */
export const agentErrorReasonOf = (code: number): AgentErrorReason | undefined =>
  AgentErrorReason.literals.find((reason) => ErrorCode[reason] === code)

/** `{ jsonrpc, id, result }` as a JSON line (the result already encoded). */
export const successLine = (id: RequestId, result: unknown): string => JSON.stringify({ jsonrpc: "2.0", id, result })

/** `{ jsonrpc, id, error }` as a JSON line. */
export const errorLine = (id: RequestId, error: RpcErrorObject): string => JSON.stringify({ jsonrpc: "2.0", id, error })

/** An event notification; `eventJson` is the already encoded event (encoded once for all subscribers). */
export const eventLine = (subscription: number, eventJson: string): string =>
  `{"jsonrpc":"2.0","method":"${EVENT_METHOD}","params":{"subscription":${subscription},"event":${eventJson}}}`

// --- method parameters (by name) ---

/** A local file path as the agent sees it: absolute, since the agent's working directory is not the caller's. */
export const AbsolutePath = Schema.String.pipe(
  Schema.minLength(2),
  Schema.maxLength(4096),
  Schema.filter((p) => p.startsWith("/") || "the path must be absolute (the agent runs in another directory)")
)

/** No parameters (an absent `params` counts as `{}`). */
export const NoParams = Schema.Struct({})
export const PeerParams = Schema.Struct({ peer: Handle })
export const SendParams = Schema.Struct({ peer: Handle, body: MessageBody })
export const SendFileParams = Schema.Struct({ peer: Handle, path: AbsolutePath })
export const CancelParams = Schema.Struct({ id: Id })
/** `accept`: a held incoming file (PROTOCOL.md 5.4.7), by its sender and transfer id. */
export const AcceptParams = Schema.Struct({ peer: Handle, id: Id })
export const HistoryParams = Schema.Struct({
  peer: Schema.optional(Handle),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, HISTORY_MAX_LIMIT))),
  /** Messages before this position (`at`, `seq` of the oldest one already shown): the previous page. */
  before: Schema.optional(Schema.Struct({ at: Instant, seq: Schema.Int }))
})
export const TypingParams = Schema.Struct({ peer: Handle, state: Schema.Literal("active", "paused") })
export const TransfersParams = Schema.Struct({ peer: Schema.optional(Handle) })
export const UnsubscribeParams = Schema.Struct({ subscription: Schema.Int })
/** `contact verify`: the safety number the person compared (60 digits; spaces allowed). */
export const VerifyParams = Schema.Struct({
  peer: Handle,
  safetyNumber: Schema.String.pipe(Schema.pattern(/^[0-9 ]{60,71}$/))
})
export const KeyChangesParams = Schema.Struct({ peer: Schema.optional(Handle) })
/** `domainInfo` and `trustDomain` (PROTOCOL.md §22.3.3): a domain as §21.1 normalises it (`other.net`). */
export const DomainParams = Schema.Struct({ domain: DomainName })
export const DomainKeyChangesParams = Schema.Struct({ domain: Schema.optional(DomainName) })

// --- method results defined in the domain ---

/** The result of methods that only succeed or fail. */
export const EmptyResult = Schema.Struct({})
export const MarkReadResult = Schema.Struct({ count: Schema.Int })
export const SubscribeResult = Schema.Struct({ subscription: Schema.Int })
export const HistoryResult = Schema.Array(StoredMessage)
export const ContactsResult = Schema.Array(Contact)
export const TransfersResult = Schema.Array(Transfer)
export const KeyChangesResult = Schema.Array(KeyChange)
export const DomainKeyChangesResult = Schema.Array(DomainKeyChange)

/**
 * `domainInfo`: what the home IRP relays about a domain (its federation policy, §22.5) and this agent's
 * pin of the domain's CA after seeing it (`null` for our own domain, whose CA is `ca.pem`).
 */
export const DomainInfoResult = Schema.Struct({
  domain: DomainName,
  policy: FederationMode,
  pin: Schema.NullOr(DomainPin),
  /** One sentence: pinned now, same as pinned, or changed (held or accepted). */
  message: Schema.String
})
export type DomainInfoResult = typeof DomainInfoResult.Type

// --- sending to a handle: lookup and the outbox (issue 13, item 4) ---

/**
 * `lookup`: whether `peer` can be written to, asked of the IRP through the agent before a message is
 * queued. `active`: a certificate in good standing (`online` tells whether a device of theirs is
 * registered now; if not, messages wait for them); `unknown`: no certificate in the domain;
 * `revoked`: revoked; `otherDomain`: never sent since federation (PROTOCOL.md §22: a handle of another
 * domain is looked up through the home IRP like any other); kept so that older clients still decode.
 * `message` is one sentence for a person.
 */
export const LookupResult = Schema.Struct({
  peer: Handle,
  status: Schema.Literal("active", "unknown", "revoked", "otherDomain"),
  online: Schema.Boolean,
  message: Schema.String
})
export type LookupResult = typeof LookupResult.Type

export const OutboxParams = Schema.Struct({
  peer: Schema.optional(Handle),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000)))
})

/**
 * One item waiting for delivery: a message (`queued`: never written to a channel; `sent`: written,
 * no `<Ack>` yet) or a file this user offers (`offered`, `accepted`, `sending`). `attempts`: times a
 * message was written to a channel (`null` for a file); `lastError`: why the last attempt to reach
 * the peer failed, if it did; `nextAttemptAt`: when the agent tries the peer again (`null`: as soon as
 * it can). `expiresAt`: when it is given up (a message: its creation plus the outbox expiry; a file:
 * its last progress plus the expiry). `summary`: the start of the message, or the file's name.
 */
export const OutboxItem = Schema.Struct({
  id: Id,
  peer: Handle,
  kind: Schema.Literal("message", "file"),
  state: Schema.Literal("queued", "sent", "offered", "accepted", "sending", "cancelled"),
  summary: Schema.String,
  createdAt: Instant,
  attempts: Schema.NullOr(Schema.Int),
  lastError: Schema.NullOr(Schema.String),
  nextAttemptAt: Schema.NullOr(Instant),
  expiresAt: Instant
})
export type OutboxItem = typeof OutboxItem.Type
export const OutboxResult = Schema.Array(OutboxItem)
