/**
 * Messages both ways and history (PROTOCOL.md §15; issue 4, section 2). Storing a message (`enqueue`,
 * `receive`) is a durable write; the receipts that follow (`markSent`, `markDelivered`, `markRead`,
 * `markReadByMe`) are relaxed writes, because losing one to a power cut only leads to a resend that
 * the receiver deduplicates (see `database.ts`). Every outgoing state change goes through the pure
 * `nextOutgoing` state machine. `enqueue` on a database in a file runs synchronously on the fast
 * connection (`fastMessages.ts`: the same statements, still durable before it returns).
 */
import { Effect } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import {
  HISTORY_DEFAULT_LIMIT,
  HISTORY_MAX_LIMIT,
  historyTime,
  type MarkOutcome,
  nextOutgoing,
  type OutgoingEvent,
  type OutgoingState,
  type StoredMessage
} from "../../../domain/agent/messages.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import { ensureContact } from "./contacts.js"
import type { StoreDb } from "./database.js"
import * as Fast from "./fastMessages.js"
import { decodeMessages, MESSAGE_COLUMNS } from "./rows.js"

type MessageOps = Pick<
  AgentStoreService,
  | "enqueue"
  | "markSent"
  | "markDelivered"
  | "markRead"
  | "cancel"
  | "receive"
  | "markReadByMe"
  | "markConversationRead"
  | "history"
  | "outgoing"
  | "incoming"
  | "wroteTo"
>

/** `n` if it is a positive integer up to `max`, else an `InvalidArgument` naming `what`. */
export const checkLimit = (what: string, n: number | undefined, fallback: number, max: number) =>
  n === undefined
    ? Effect.succeed(fallback)
    : Number.isInteger(n) && n >= 1 && n <= max
      ? Effect.succeed(n)
      : Effect.fail(
          new AgentStoreError({
            reason: "InvalidArgument",
            message: `${what} must be a whole number from 1 to ${max}.`
          })
        )

export const makeMessageOps = (db: StoreDb): MessageOps => {
  const { sql } = db
  const cols = sql.literal(MESSAGE_COLUMNS)
  const one = (rows: ReadonlyArray<StoredMessage>) => rows[0]

  const selectOutgoing = (id: Id, peer?: Handle) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT ${cols} FROM messages WHERE direction = 'out' AND id = ${id}
          ${peer === undefined ? sql.literal("") : sql`AND peer = ${peer}`}`,
        decodeMessages
      ),
      one
    )
  const selectIncoming = (peer: Handle, id: Id) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT ${cols} FROM messages WHERE direction = 'in' AND peer = ${peer} AND id = ${id}`,
        decodeMessages
      ),
      one
    )

  /** The column changes that go with a new outgoing state. */
  const assignments = (state: OutgoingState, now: number) => {
    switch (state) {
      case "sent":
        return sql`state = 'sent'`
      case "delivered":
        return sql`state = 'delivered', delivered_at = ${now}`
      case "read":
        return sql`state = 'read', read_at = ${now}, delivered_at = COALESCE(delivered_at, ${now})`
      case "cancelled":
        return sql`state = 'cancelled', cancelled_at = ${now}`
      case "queued":
        return sql`state = 'queued'`
    }
  }

  /** Applies a peer's receipt (`<Ack>` / `<Read>`) to one of our messages. */
  const receipt = (event: OutgoingEvent, peer: Handle, id: Id, now: number) =>
    db.relaxed(
      Effect.gen(function* () {
        // An Ack proves the peer reachable: its retry backoff starts over.
        yield* sql`DELETE FROM retry WHERE peer = ${peer}`
        const message = yield* selectOutgoing(id, peer)
        if (message === undefined) return ["unknown" as MarkOutcome, []] as const
        const next = nextOutgoing(message.state as OutgoingState, event)
        if (next._tag !== "Changed") return ["unchanged" as MarkOutcome, []] as const
        const updated = yield* Effect.flatMap(
          sql`UPDATE messages SET ${assignments(next.state, now)} WHERE seq = ${message.seq} RETURNING ${cols}`,
          decodeMessages
        )
        return [
          "changed" as MarkOutcome,
          updated.map((m) => ({ _tag: "agent.MessageUpdated", message: m }) as const)
        ] as const
      })
    )

  return {
    enqueue: Effect.fn("AgentStore.enqueue")(function* ({ id, peer, body, now }) {
      if (db.fast !== undefined) return yield* db.fast.durable(Fast.enqueue({ id, peer, body, now }))
      return yield* db.durable(
        Effect.gen(function* () {
          yield* ensureContact(db, peer, now)
          const [added] = yield* Effect.flatMap(
            sql`INSERT INTO messages (id, peer, direction, body, state, at, created_at)
              VALUES (${id}, ${peer}, 'out', ${body}, 'queued', ${historyTime("out", now, now)}, ${now})
              ON CONFLICT (id) WHERE direction = 'out' DO NOTHING RETURNING ${cols}`,
            decodeMessages
          )
          if (added !== undefined) return [added, [{ _tag: "agent.MessageAdded", message: added }]] as const
          const existing = yield* selectOutgoing(id)
          if (existing === undefined || existing.peer !== peer || existing.body !== body) {
            return yield* new AgentStoreError({
              reason: "Conflict",
              message: `Message id ${id} is already used for another message: give the new one a fresh id.`
            })
          }
          return [existing, []] as const
        })
      )
    }),

    markSent: Effect.fn("AgentStore.markSent")(function* ({ id, now }) {
      return yield* db.relaxed(
        Effect.gen(function* () {
          const message = yield* selectOutgoing(id)
          if (message === undefined) return ["unknown" as MarkOutcome, []] as const
          // Only a message still in the outbox counts the attempt; a cancelled or acknowledged one stays as it is.
          if (message.state !== "queued" && message.state !== "sent") return ["unchanged" as MarkOutcome, []] as const
          const next = nextOutgoing(message.state, "sent")
          const updated = yield* Effect.flatMap(
            sql`UPDATE messages SET state = 'sent', sent_at = ${now}, attempts = attempts + 1
              WHERE seq = ${message.seq} RETURNING ${cols}`,
            decodeMessages
          )
          return next._tag === "Changed"
            ? (["changed", updated.map((m) => ({ _tag: "agent.MessageUpdated", message: m }) as const)] as const)
            : (["unchanged", []] as const)
        })
      )
    }),

    markDelivered: Effect.fn("AgentStore.markDelivered")(function* ({ peer, id, now }) {
      return yield* receipt("delivered", peer, id, now)
    }),

    markRead: Effect.fn("AgentStore.markRead")(function* ({ peer, id, now }) {
      return yield* receipt("read", peer, id, now)
    }),

    cancel: Effect.fn("AgentStore.cancel")(function* ({ id, now }) {
      return yield* db.durable(
        Effect.gen(function* () {
          const message = yield* selectOutgoing(id)
          if (message === undefined) {
            return yield* new AgentStoreError({
              reason: "NotFound",
              message: `No outgoing message has id ${id}: check the id (sixchat history shows them).`
            })
          }
          const next = nextOutgoing(message.state as OutgoingState, "cancel")
          if (next._tag === "Refused") {
            return yield* new AgentStoreError({
              reason: "TooLate",
              message: `Message ${id} was already delivered to ${message.peer}; it can no longer be cancelled.`
            })
          }
          if (next._tag === "Unchanged") return [message, []] as const
          const [updated] = yield* Effect.flatMap(
            sql`UPDATE messages SET ${assignments(next.state, now)} WHERE seq = ${message.seq} RETURNING ${cols}`,
            decodeMessages
          )
          const result = updated ?? message
          return [result, [{ _tag: "agent.MessageUpdated", message: result }]] as const
        })
      )
    }),

    receive: Effect.fn("AgentStore.receive")(function* ({ id, peer, body, createdAt, now }) {
      if (!Number.isSafeInteger(createdAt)) {
        return yield* new AgentStoreError({
          reason: "InvalidArgument",
          message: `Message ${id} from ${peer} carries an unusable time stamp; it was not stored.`
        })
      }
      return yield* db.durable(
        Effect.gen(function* () {
          yield* ensureContact(db, peer, now)
          const added = yield* Effect.flatMap(
            sql`INSERT INTO messages (id, peer, direction, body, state, at, created_at, received_at)
              VALUES (${id}, ${peer}, 'in', ${body}, 'received', ${historyTime("in", createdAt, now)},
                ${createdAt}, ${now})
              ON CONFLICT (peer, id) WHERE direction = 'in' DO NOTHING RETURNING ${cols}`,
            decodeMessages
          )
          return added.length === 0
            ? (["duplicate", []] as const)
            : (["new", added.map((m) => ({ _tag: "agent.MessageAdded", message: m }) as const)] as const)
        })
      )
    }),

    markReadByMe: Effect.fn("AgentStore.markReadByMe")(function* ({ peer, id, now }) {
      return yield* db.relaxed(
        Effect.gen(function* () {
          const updated = yield* Effect.flatMap(
            sql`UPDATE messages SET state = 'read', read_at = ${now}
              WHERE direction = 'in' AND peer = ${peer} AND id = ${id} AND state = 'received' RETURNING ${cols}`,
            decodeMessages
          )
          if (updated.length > 0) {
            return [
              "changed" as MarkOutcome,
              updated.map((m) => ({ _tag: "agent.MessageUpdated", message: m }) as const)
            ] as const
          }
          const known = yield* selectIncoming(peer, id)
          return [(known === undefined ? "unknown" : "unchanged") as MarkOutcome, []] as const
        })
      )
    }),

    markConversationRead: Effect.fn("AgentStore.markConversationRead")(function* ({ peer, now }) {
      return yield* db.relaxed(
        Effect.gen(function* () {
          const updated = yield* Effect.flatMap(
            sql`UPDATE messages SET state = 'read', read_at = ${now}
              WHERE direction = 'in' AND peer = ${peer} AND state = 'received' RETURNING ${cols}`,
            decodeMessages
          )
          const ordered = [...updated].sort((a, b) => a.at - b.at || a.seq - b.seq)
          return [
            ordered.map((m) => m.id),
            ordered.map((m) => ({ _tag: "agent.MessageUpdated", message: m }) as const)
          ] as const
        })
      )
    }),

    history: Effect.fn("AgentStore.history")(function* (input = {}) {
      const limit = yield* checkLimit("A history limit", input.limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)
      const { peer, before } = input
      // `at <= ?` is the index range; the OR only sorts out ties on `at`.
      const conditions = [
        ...(peer === undefined ? [] : [sql`peer = ${peer}`]),
        ...(before === undefined ? [] : [sql`at <= ${before.at} AND (at < ${before.at} OR seq < ${before.seq})`])
      ]
      const page = yield* db.read(
        Effect.flatMap(
          sql`SELECT ${cols} FROM messages ${conditions.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(conditions)}`}
            ORDER BY at DESC, seq DESC LIMIT ${limit}`,
          decodeMessages
        )
      )
      return page.reverse()
    }),

    outgoing: Effect.fn("AgentStore.outgoing")(function* (id) {
      return yield* db.read(selectOutgoing(id))
    }),

    incoming: Effect.fn("AgentStore.incoming")(function* (peer, id) {
      return yield* db.read(selectIncoming(peer, id))
    }),

    wroteTo: Effect.fn("AgentStore.wroteTo")(function* (peer) {
      // Both probes are index lookups (messages_peer_at; transfers_key on direction, peer).
      const rows = yield* db.read(
        sql<{ readonly one: number }>`SELECT 1 AS one WHERE EXISTS
          (SELECT 1 FROM messages WHERE peer = ${peer} AND direction = 'out' AND state <> 'cancelled')
          OR EXISTS (SELECT 1 FROM transfers WHERE peer = ${peer} AND direction = 'out')`
      )
      return rows.length > 0
    })
  }
}
