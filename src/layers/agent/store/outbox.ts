/**
 * The outbox and the per-peer retry schedule (PROTOCOL.md §15: "after a reconnect it resends what is
 * unacknowledged ... the sender retries (backoff, and at once when the IRP reports a new address for
 * the peer)"). The outbox is not a table of its own: it is the unacknowledged outgoing messages,
 * read through a partial index that holds only them.
 */
import { Effect } from "effect"
import { defaultRetryPolicy, type RetryPolicy, retryDelay } from "../../../domain/agent/retry.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import { ensureContact } from "./contacts.js"
import type { StoreDb } from "./database.js"
import * as Fast from "./fastMessages.js"
import { checkLimit } from "./messages.js"
import { decodeMessages, decodeMessagesNow, decodeOutboxPeers, decodeRetry, MESSAGE_COLUMNS } from "./rows.js"

type OutboxOps = Pick<
  AgentStoreService,
  "outbox" | "peersWithOutbox" | "recordDeliveryFailure" | "retryNow" | "resetRetry" | "expireOutbox" | "failedCount"
>

export const OUTBOX_DEFAULT_LIMIT = 500
export const OUTBOX_MAX_LIMIT = 10_000
/** Longest error text kept per peer. */
const MAX_ERROR_LENGTH = 1000

export const makeOutboxOps = (db: StoreDb, policy: RetryPolicy = defaultRetryPolicy): OutboxOps => {
  const { sql } = db
  return {
    outbox: Effect.fn("AgentStore.outbox")(function* (input = {}) {
      const limit = yield* checkLimit("An outbox page size", input.limit, OUTBOX_DEFAULT_LIMIT, OUTBOX_MAX_LIMIT)
      const { peer, after } = input
      if (db.fast !== undefined) {
        const { text, params } = Fast.outboxQuery(peer, after, limit)
        return yield* db.fast.read(text, params, decodeMessagesNow)
      }
      return yield* db.read(
        Effect.flatMap(
          sql`SELECT ${sql.literal(MESSAGE_COLUMNS)} FROM messages
            WHERE direction = 'out' AND state IN ('queued', 'sent')
              ${peer === undefined ? sql.literal("") : sql`AND peer = ${peer}`}
              ${after === undefined ? sql.literal("") : sql`AND seq > ${after}`}
            ORDER BY seq LIMIT ${limit}`,
          decodeMessages
        )
      )
    }),

    peersWithOutbox: Effect.fn("AgentStore.peersWithOutbox")(function* () {
      return yield* db.read(
        Effect.flatMap(
          sql`SELECT m.peer AS peer, COUNT(*) AS pending, MIN(m.created_at) AS oldest_at,
              r.failures AS failures, r.next_attempt_at AS next_attempt_at, r.last_error AS last_error
            FROM messages m LEFT JOIN retry r ON r.peer = m.peer
            WHERE m.direction = 'out' AND m.state IN ('queued', 'sent')
            GROUP BY m.peer
            ORDER BY r.next_attempt_at IS NOT NULL, r.next_attempt_at, m.peer`,
          decodeOutboxPeers
        )
      )
    }),

    recordDeliveryFailure: Effect.fn("AgentStore.recordDeliveryFailure")(function* ({ peer, error, random, now }) {
      return yield* db.relaxed(
        Effect.gen(function* () {
          yield* ensureContact(db, peer, now)
          const rows = yield* sql<{ readonly failures: number }>`SELECT failures FROM retry WHERE peer = ${peer}`
          const failures = (rows[0]?.failures ?? 0) + 1
          const next = now + retryDelay(policy, failures, random)
          const [state] = yield* Effect.flatMap(
            sql`INSERT INTO retry (peer, failures, next_attempt_at, last_error, updated_at)
              VALUES (${peer}, ${failures}, ${next}, ${error.slice(0, MAX_ERROR_LENGTH)}, ${now})
              ON CONFLICT (peer) DO UPDATE SET failures = excluded.failures,
                next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,
                updated_at = excluded.updated_at
              RETURNING peer, failures, next_attempt_at, last_error, updated_at`,
            decodeRetry
          )
          if (state === undefined) return yield* Effect.dieMessage("retry upsert returned no row")
          return [state, []] as const
        })
      )
    }),

    retryNow: Effect.fn("AgentStore.retryNow")(function* ({ peer, now }) {
      // Called for every message sent: a peer with no failures on record (the usual case) needs no
      // write at all, and a read costs a fraction of a write transaction.
      if (db.fast !== undefined) {
        const fast = db.fast
        const due = yield* fast.read(Fast.SCHEDULED, [peer], (rows) => rows.length > 0)
        return due ? yield* fast.relaxed(Fast.retryNow(peer, now)) : undefined
      }
      const scheduled = yield* db.read(sql<{ readonly one: number }>`SELECT 1 AS one FROM retry WHERE peer = ${peer}`)
      if (scheduled.length === 0) return
      yield* db.relaxed(
        Effect.as(sql`UPDATE retry SET next_attempt_at = ${now}, updated_at = ${now} WHERE peer = ${peer}`, [
          undefined,
          []
        ] as const)
      )
    }),

    expireOutbox: Effect.fn("AgentStore.expireOutbox")(function* ({ createdBefore, now }) {
      // The partial index `messages_outbox_all` holds only the waiting messages: this never scans history.
      return yield* db.relaxed(
        Effect.gen(function* () {
          const expired = yield* Effect.flatMap(
            sql`UPDATE messages SET state = 'expired', expired_at = ${now}
              WHERE direction = 'out' AND state IN ('queued', 'sent') AND created_at <= ${createdBefore}
              RETURNING ${sql.literal(MESSAGE_COLUMNS)}`,
            decodeMessages
          )
          const ordered = [...expired].sort((a, b) => a.seq - b.seq)
          return [ordered, ordered.map((message) => ({ _tag: "agent.MessageUpdated", message }) as const)] as const
        })
      )
    }),

    failedCount: Effect.fn("AgentStore.failedCount")(function* () {
      const rows = yield* db.read(
        sql<{ readonly n: number }>`SELECT
          (SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'expired')
          + (SELECT COUNT(*) FROM transfers WHERE direction = 'out' AND state = 'failed') AS n`
      )
      return Number(rows[0]?.n ?? 0)
    }),

    resetRetry: Effect.fn("AgentStore.resetRetry")(function* (peer) {
      yield* db.relaxed(Effect.as(sql`DELETE FROM retry WHERE peer = ${peer}`, [undefined, []] as const))
    })
  }
}
