/**
 * The message operations for many messages at once (issue 4, section 2), so that a burst costs one
 * transaction instead of one per message:
 *
 * * `receiveMany`: group commit on the receiving side. Every message of the batch is stored by ONE
 *   durable transaction (`synchronous = FULL`: on disk when it returns), so the caller may
 *   acknowledge each of them afterwards, exactly as after `receive`; one fsync covers the lot.
 * * `markSentMany`, `markDeliveredMany`: the receipts of a page of sent messages or a run of
 *   `<Ack>`s, one relaxed transaction each (see `database.ts`: losing one to a power cut only leads
 *   to a resend that the receiver deduplicates).
 *
 * Same rules and events as the one-message operations in `messages.ts`; each statement handles the
 * whole batch (multi-row INSERT, `IN` lists), so the per-statement cost is paid once per batch. On a
 * database in a file the three run synchronously on the fast connection (`fastMessages.ts`, same
 * statements and durability); the code below is what an in-memory store runs.
 */
import { Effect } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import {
  historyTime,
  type MarkOutcome,
  type ReceiveOutcome,
  type StoredMessage
} from "../../../domain/agent/messages.js"
import type { Id } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import { ensureContact } from "./contacts.js"
import type { StoreDb } from "./database.js"
import * as Fast from "./fastMessages.js"
import { decodeMessages, MESSAGE_COLUMNS } from "./rows.js"

type BatchOps = Pick<AgentStoreService, "receiveMany" | "markSentMany" | "markDeliveredMany">

/**
 * Most messages one call takes (the caller splits longer runs): well under SQLite's limit on bound
 * parameters (8 per row here), and one transaction stays short.
 */
export const MAX_BATCH = 256

const tooMany = (what: string) =>
  new AgentStoreError({
    reason: "InvalidArgument",
    message: `At most ${MAX_BATCH} ${what} can be stored at once; split the batch.`
  })

const added = (rows: ReadonlyArray<StoredMessage>): ReadonlyArray<StoreEvent> =>
  [...rows].sort((a, b) => a.seq - b.seq).map((message) => ({ _tag: "agent.MessageAdded", message }) as const)

const updated = (rows: ReadonlyArray<StoredMessage>): ReadonlyArray<StoreEvent> =>
  [...rows].sort((a, b) => a.seq - b.seq).map((message) => ({ _tag: "agent.MessageUpdated", message }) as const)

export const makeBatchOps = (db: StoreDb): BatchOps => {
  const { sql } = db
  const cols = sql.literal(MESSAGE_COLUMNS)

  return {
    receiveMany: Effect.fn("AgentStore.receiveMany")(function* ({ peer, messages, now }) {
      if (messages.length === 0) return []
      if (messages.length > MAX_BATCH) return yield* tooMany("messages")
      const bad = messages.find((m) => !Number.isSafeInteger(m.createdAt))
      if (bad !== undefined) {
        return yield* new AgentStoreError({
          reason: "InvalidArgument",
          message: `Message ${bad.id} from ${peer} carries an unusable time stamp; it was not stored.`
        })
      }
      if (db.fast !== undefined) return yield* db.fast.durable(Fast.receiveMany(peer, messages, now))
      const rows = messages.map((m) => ({
        id: m.id,
        peer,
        direction: "in",
        body: m.body,
        state: "received",
        at: historyTime("in", m.createdAt, now),
        created_at: m.createdAt,
        received_at: now
      }))
      return yield* db.durable(
        Effect.gen(function* () {
          yield* ensureContact(db, peer, now)
          // One statement for the batch; a message already stored (or twice in the batch) is skipped
          // by the conflict clause and comes back as a duplicate.
          const inserted = yield* Effect.flatMap(
            sql`INSERT INTO messages ${sql.insert(rows)}
              ON CONFLICT (peer, id) WHERE direction = 'in' DO NOTHING RETURNING ${cols}`,
            decodeMessages
          )
          const fresh = new Set<string>(inserted.map((m) => m.id))
          const outcomes = messages.map((m): ReceiveOutcome => (fresh.delete(m.id) ? "new" : "duplicate"))
          return [outcomes, added(inserted)] as const
        })
      )
    }),

    markSentMany: Effect.fn("AgentStore.markSentMany")(function* ({ ids, now }) {
      if (ids.length === 0) return
      if (ids.length > MAX_BATCH) return yield* tooMany("receipts")
      if (db.fast !== undefined) return yield* db.fast.relaxed(Fast.markSentMany(ids, now))
      yield* db.relaxed(
        Effect.gen(function* () {
          // Resent ones count the attempt without an event; queued ones become `sent`. Cancelled or
          // acknowledged ones stay as they are (as `markSent`).
          yield* sql`UPDATE messages SET sent_at = ${now}, attempts = attempts + 1
            WHERE direction = 'out' AND id IN ${sql.in(ids)} AND state = 'sent'`
          const changed = yield* Effect.flatMap(
            sql`UPDATE messages SET state = 'sent', sent_at = ${now}, attempts = attempts + 1
              WHERE direction = 'out' AND id IN ${sql.in(ids)} AND state = 'queued' RETURNING ${cols}`,
            decodeMessages
          )
          return [undefined, updated(changed)] as const
        })
      )
    }),

    markDeliveredMany: Effect.fn("AgentStore.markDeliveredMany")(function* ({ peer, ids, now }) {
      if (ids.length === 0) return []
      if (ids.length > MAX_BATCH) return yield* tooMany("receipts")
      if (db.fast !== undefined) return yield* db.fast.relaxed(Fast.markDeliveredMany(peer, ids, now))
      return yield* db.relaxed(
        Effect.gen(function* () {
          // An Ack proves the peer reachable: its retry backoff starts over (as `markDelivered`).
          yield* sql`DELETE FROM retry WHERE peer = ${peer}`
          const changed = yield* Effect.flatMap(
            sql`UPDATE messages SET state = 'delivered', delivered_at = ${now}
              WHERE direction = 'out' AND peer = ${peer} AND id IN ${sql.in(ids)}
                AND state IN ('queued', 'sent', 'cancelled') RETURNING ${cols}`,
            decodeMessages
          )
          const done = new Set<string>(changed.map((m) => m.id))
          const known = new Set<string>(done)
          const rest = ids.filter((id) => !done.has(id))
          if (rest.length > 0) {
            const rows = yield* sql<{ readonly id: Id }>`SELECT id FROM messages
              WHERE direction = 'out' AND peer = ${peer} AND id IN ${sql.in(rest)}`
            for (const r of rows) known.add(r.id)
          }
          // An id twice in the run: changed the first time, unchanged after.
          const outcomes = ids.map(
            (id): MarkOutcome => (done.delete(id) ? "changed" : known.has(id) ? "unchanged" : "unknown")
          )
          return [outcomes, updated(changed)] as const
        })
      )
    })
  }
}
