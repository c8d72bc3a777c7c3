/**
 * Chat messages as the User Agent stores them (PROTOCOL.md §15; issue 4, section 2): one record per
 * message and direction, its delivery state, and the pure state machine that every store update
 * goes through. Pure: times come in as epoch milliseconds chosen by the caller.
 */
import { ParseResult, Schema } from "effect"
import { Handle, Id } from "../brands.js"
import type { Timestamp } from "../e2e/messages.js"

/** Epoch milliseconds (in memory and in the agent's database). */
export const Millis = Schema.Int
export type Millis = typeof Millis.Type

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/

/**
 * A time as the agent's machine outputs show it (the control socket, `--json`; issue 13 §3): epoch
 * milliseconds in memory, an RFC 3339 UTC string such as `2026-12-05T12:00:00.000Z` on the wire.
 * Decoding takes any RFC 3339 offset; encoding always writes UTC with milliseconds.
 */
export const Instant: Schema.Schema<number, string> = Schema.transformOrFail(Schema.String, Millis, {
  strict: true,
  decode: (text, _, ast) => {
    const ms = RFC3339.test(text) ? Date.parse(text) : Number.NaN
    return Number.isFinite(ms)
      ? ParseResult.succeed(ms)
      : ParseResult.fail(new ParseResult.Type(ast, text, "an RFC 3339 time such as 2026-12-05T12:00:00.000Z"))
  },
  encode: (ms, _, ast) =>
    Math.abs(ms) <= 8.64e15
      ? ParseResult.succeed(new Date(ms).toISOString())
      : ParseResult.fail(new ParseResult.Type(ast, ms, "a time between the years -271821 and 275760"))
})

/** `out`: written by this user; `in`: received from the peer. */
export const Direction = Schema.Literal("in", "out")
export type Direction = typeof Direction.Type

/**
 * State of an outgoing message:
 * * `queued`: stored in the outbox, never written to a channel yet;
 * * `sent`: written to a channel at least once, no `<Ack>` yet (still in the outbox);
 * * `delivered`: the peer's `<Ack>` came back (the peer has stored it); out of the outbox;
 * * `read`: the peer's `<Read>` came back;
 * * `cancelled`: the user withdrew it before delivery; out of the outbox;
 * * `expired`: not delivered within the agent's outbox expiry (`--outbox-expiry`, default 7 days):
 *   given up, shown as failed; out of the outbox (issue 13, item 4).
 */
export const OutgoingState = Schema.Literal("queued", "sent", "delivered", "read", "cancelled", "expired")
export type OutgoingState = typeof OutgoingState.Type

/** State of an incoming message: `received` (stored, unread) or `read` (this user has seen it). */
export const IncomingState = Schema.Literal("received", "read")
export type IncomingState = typeof IncomingState.Type

export const MessageState = Schema.Union(OutgoingState, IncomingState)
export type MessageState = typeof MessageState.Type

/**
 * One stored message, as history, the outbox and the change feed show it. Times are epoch ms
 * (`Instant`: RFC 3339 strings on the wire), `null` until the event happened.
 */
export const StoredMessage = Schema.Struct({
  /** Local insertion order: a stable key and the tie-break of `at`. */
  seq: Schema.Int,
  id: Id,
  peer: Handle,
  direction: Direction,
  body: Schema.String,
  state: MessageState,
  /** History position (see `historyTime`); history is ordered by `(at, seq)`. */
  at: Instant,
  /**
   * When the author wrote it: the wire's `<Message sent>`. For an outgoing message this is the time
   * of `enqueue`, and every (re)send must carry this same stamp.
   */
  createdAt: Instant,
  /** Outgoing: last time it was written to a channel. */
  sentAt: Schema.NullOr(Instant),
  /** Outgoing: when the peer's `<Ack>` arrived. */
  deliveredAt: Schema.NullOr(Instant),
  /** Outgoing: when the peer's `<Read>` arrived; incoming: when this user read it. */
  readAt: Schema.NullOr(Instant),
  /** Incoming: when this agent stored it (before its `<Ack>` went out). */
  receivedAt: Schema.NullOr(Instant),
  /** Outgoing: when the user cancelled it. */
  cancelledAt: Schema.NullOr(Instant),
  /** Outgoing: when it expired undelivered (state `expired`; issue 13 item 4). */
  expiredAt: Schema.NullOr(Instant),
  /** Outgoing: how many times it was written to a channel. */
  attempts: Schema.Int
})
export type StoredMessage = typeof StoredMessage.Type

/**
 * History position, and the time shown, of a message: when it happened here. Outgoing: its
 * `createdAt` (when the user wrote it). Incoming: when it arrived (`receivedAt`); the sender's
 * `<Message sent>` is only the sender's claim (a backdated stamp must not place a message in the
 * past of the conversation, issue 10 section 6) and stays available as `createdAt`. Ties fall back
 * to local insertion order (`seq`).
 */
export const historyTime = (direction: Direction, createdAt: number, receivedAt: number): number =>
  direction === "out" ? createdAt : receivedAt

/**
 * How far the sender's stamp may differ from the arrival before the UI mentions it (clocks drift,
 * and a message may wait in the sender's outbox while the receiver is offline: minutes are normal).
 */
const SENT_NOTE_AFTER_MS = 10 * 60_000

/** The sender's stamp when it is worth showing beside the arrival time; `undefined` otherwise. */
export const claimedSent = (m: {
  readonly direction: Direction
  readonly createdAt: number
  readonly receivedAt: number | null
}): number | undefined =>
  m.direction === "in" && m.receivedAt !== null && Math.abs(m.receivedAt - m.createdAt) > SENT_NOTE_AFTER_MS
    ? m.createdAt
    : undefined

/** A history page position: pass a `StoredMessage` (or its `at` and `seq`) to get what came before it. */
export interface HistoryCursor {
  readonly at: number
  readonly seq: number
}

export const HISTORY_DEFAULT_LIMIT = 100
export const HISTORY_MAX_LIMIT = 1000

/** What happens to an outgoing message. */
export type OutgoingEvent = "sent" | "delivered" | "read" | "cancel" | "expire"

/**
 * The outgoing state machine. `unchanged` leaves the state as it is (a repeated or late event);
 * `refused` is an event that cannot apply (cancelling what was delivered). Notable arrows:
 * * `sent` → `sent` is a resend: unchanged state (the store still counts the attempt);
 * * an `<Ack>` for a cancelled message moves it to `delivered`: a message cancelled after it was
 *   written to a channel may still have been stored by the peer, and the truth wins;
 * * `<Read>` implies delivery (an `<Ack>` lost or overtaken);
 * * an `<Ack>` after `<Read>` changes nothing;
 * * `expire` gives up a message still in the outbox; an `<Ack>` that comes later (it was written to a
 *   channel and the peer stored it after all) moves it to `delivered`, like a cancelled one.
 */
export const nextOutgoing = (
  state: OutgoingState,
  event: OutgoingEvent
):
  | { readonly _tag: "Changed"; readonly state: OutgoingState }
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Refused" } => {
  const to = (next: OutgoingState) => ({ _tag: "Changed", state: next }) as const
  const same = { _tag: "Unchanged" } as const
  switch (event) {
    case "sent":
      return state === "queued" ? to("sent") : same
    case "delivered":
      return state === "queued" || state === "sent" || state === "cancelled" || state === "expired"
        ? to("delivered")
        : same
    case "read":
      return state === "read" ? same : to("read")
    case "cancel":
      return state === "queued" || state === "sent"
        ? to("cancelled")
        : state === "cancelled"
          ? same
          : { _tag: "Refused" }
    case "expire":
      return state === "queued" || state === "sent" ? to("expired") : same
  }
}

/** What a receipt-like update did: changed the state, found it already there, or found no such message. */
export type MarkOutcome = "changed" | "unchanged" | "unknown"

/** Outcome of storing an incoming message: the agent sends `<Ack>` in both cases (PROTOCOL.md §15). */
export type ReceiveOutcome = "new" | "duplicate"

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

/** Epoch ms of a wire `Timestamp` (fraction truncated to milliseconds). */
export const timestampMillis = (stamp: Timestamp): number => {
  const m = RFC3339_UTC.exec(stamp)
  if (m === null) return Number.NaN
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  return Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3)))
}

/** The wire `Timestamp` of epoch ms (what an outgoing `<Message sent>` carries: its `createdAt`). */
export const timestampOf = (ms: number): Timestamp => new Date(ms).toISOString() as Timestamp
