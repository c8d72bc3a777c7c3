/**
 * The message path's hot operations as synchronous bodies on the fast connection (`fastDb.ts`,
 * issue 15): the same statements, rules, durability and events as their effectful versions in
 * `messages.ts`, `batches.ts` and `outbox.ts`, which a store on an in-memory database still uses.
 * Keep the two in step (the store tests run against a file, the simulations against memory).
 *
 * * `enqueue`, `receiveMany`: durable (`synchronous = FULL`, on disk when they return): `send` tells the
 *   user the message is safe, and the receiver's `<Ack>` goes out only after `receiveMany` returned
 *   (PROTOCOL.md §15).
 * * `markSentMany`, `markDeliveredMany`, `retryNow`: relaxed (`synchronous = NORMAL`), as before: losing
 *   one to a power cut only leads to a resend that the receiver deduplicates (`database.ts`).
 *
 * An `IN` list is one JSON array parameter (`json_each`), so each statement has one text and stays
 * prepared; `+peer` keeps SQLite on the id index (a peer's whole history is not scanned per run).
 */
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import {
  historyTime,
  type MarkOutcome,
  type ReceiveOutcome,
  type StoredMessage
} from "../../../domain/agent/messages.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { FastWrite } from "./database.js"
import { decodeMessagesNow, MESSAGE_COLUMNS } from "./rows.js"

const ENSURE_CONTACT = "INSERT INTO contacts (handle, created_at) VALUES (?, ?) ON CONFLICT (handle) DO NOTHING"

const INSERT_OUT = `INSERT INTO messages (id, peer, direction, body, state, at, created_at)
  VALUES (?, ?, 'out', ?, 'queued', ?, ?)
  ON CONFLICT (id) WHERE direction = 'out' DO NOTHING RETURNING ${MESSAGE_COLUMNS}`
const SELECT_OUT = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE direction = 'out' AND id = ?`
const INSERT_IN = `INSERT INTO messages (id, peer, direction, body, state, at, created_at, received_at)
  VALUES (?, ?, 'in', ?, 'received', ?, ?, ?)
  ON CONFLICT (peer, id) WHERE direction = 'in' DO NOTHING RETURNING ${MESSAGE_COLUMNS}`

const IDS = "(SELECT value FROM json_each(?))"
const RESENT = `UPDATE messages SET sent_at = ?, attempts = attempts + 1
  WHERE direction = 'out' AND id IN ${IDS} AND state = 'sent'`
const SENT = `UPDATE messages SET state = 'sent', sent_at = ?, attempts = attempts + 1
  WHERE direction = 'out' AND id IN ${IDS} AND state = 'queued' RETURNING ${MESSAGE_COLUMNS}`
const CLEAR_RETRY = "DELETE FROM retry WHERE peer = ?"
const DELIVERED = `UPDATE messages SET state = 'delivered', delivered_at = ?
  WHERE direction = 'out' AND +peer = ? AND id IN ${IDS} AND state IN ('queued', 'sent', 'cancelled')
  RETURNING ${MESSAGE_COLUMNS}`
const KNOWN_OUT = `SELECT id FROM messages WHERE direction = 'out' AND +peer = ? AND id IN ${IDS}`

/** Whether a peer has a retry schedule on record (read outside any transaction). */
export const SCHEDULED = "SELECT 1 AS one FROM retry WHERE peer = ?"
const RETRY_NOW = "UPDATE retry SET next_attempt_at = ?, updated_at = ? WHERE peer = ?"

/** The outbox query, one text per combination of filters. */
export const outboxQuery = (peer: Handle | undefined, after: number | undefined, limit: number) => {
  const params: Array<unknown> = []
  let where = "direction = 'out' AND state IN ('queued', 'sent')"
  if (peer !== undefined) {
    where += " AND peer = ?"
    params.push(peer)
  }
  if (after !== undefined) {
    where += " AND seq > ?"
    params.push(after)
  }
  params.push(limit)
  return { text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE ${where} ORDER BY seq LIMIT ?`, params }
}

const bySeq = (rows: ReadonlyArray<StoredMessage>) => [...rows].sort((a, b) => a.seq - b.seq)
const added = (rows: ReadonlyArray<StoredMessage>): ReadonlyArray<StoreEvent> =>
  bySeq(rows).map((message) => ({ _tag: "agent.MessageAdded", message }) as const)
const updated = (rows: ReadonlyArray<StoredMessage>): ReadonlyArray<StoreEvent> =>
  bySeq(rows).map((message) => ({ _tag: "agent.MessageUpdated", message }) as const)

export const enqueue =
  (input: {
    readonly id: Id
    readonly peer: Handle
    readonly body: string
    readonly now: number
  }): FastWrite<StoredMessage> =>
  (q) => {
    const { id, peer, body, now } = input
    q.all(ENSURE_CONTACT, [peer, now])
    const [fresh] = decodeMessagesNow(q.all(INSERT_OUT, [id, peer, body, historyTime("out", now, now), now]))
    if (fresh !== undefined) return [fresh, [{ _tag: "agent.MessageAdded", message: fresh }]]
    const [existing] = decodeMessagesNow(q.all(SELECT_OUT, [id]))
    if (existing === undefined || existing.peer !== peer || existing.body !== body) {
      throw new AgentStoreError({
        reason: "Conflict",
        message: `Message id ${id} is already used for another message: give the new one a fresh id.`
      })
    }
    return [existing, []]
  }

/** Stores a checked batch (at most `MAX_BATCH`, time stamps safe integers) in one durable transaction. */
export const receiveMany =
  (
    peer: Handle,
    messages: ReadonlyArray<{ readonly id: Id; readonly body: string; readonly createdAt: number }>,
    now: number
  ): FastWrite<ReadonlyArray<ReceiveOutcome>> =>
  (q) => {
    q.all(ENSURE_CONTACT, [peer, now])
    // A message already stored (or twice in the batch) is skipped by the conflict clause: a duplicate.
    const rows: Array<Record<string, unknown>> = []
    for (const m of messages) {
      rows.push(...q.all(INSERT_IN, [m.id, peer, m.body, historyTime("in", m.createdAt, now), m.createdAt, now]))
    }
    const inserted = decodeMessagesNow(rows)
    const fresh = new Set<string>(inserted.map((m) => m.id))
    const outcomes = messages.map((m): ReceiveOutcome => (fresh.delete(m.id) ? "new" : "duplicate"))
    return [outcomes, added(inserted)]
  }

export const markSentMany =
  (ids: ReadonlyArray<Id>, now: number): FastWrite<void> =>
  (q) => {
    const list = JSON.stringify(ids)
    // Resent ones count the attempt without an event; queued ones become `sent`. Cancelled or
    // acknowledged ones stay as they are (as `markSent`).
    q.all(RESENT, [now, list])
    return [undefined, updated(decodeMessagesNow(q.all(SENT, [now, list])))]
  }

export const markDeliveredMany =
  (peer: Handle, ids: ReadonlyArray<Id>, now: number): FastWrite<ReadonlyArray<MarkOutcome>> =>
  (q) => {
    // An Ack proves the peer reachable: its retry backoff starts over (as `markDelivered`).
    q.all(CLEAR_RETRY, [peer])
    const changed = decodeMessagesNow(q.all(DELIVERED, [now, peer, JSON.stringify(ids)]))
    const done = new Set<string>(changed.map((m) => m.id))
    const known = new Set<string>(done)
    const rest = ids.filter((id) => !done.has(id))
    if (rest.length > 0) for (const r of q.all(KNOWN_OUT, [peer, JSON.stringify(rest)])) known.add(String(r.id))
    // An id twice in the run: changed the first time, unchanged after.
    const outcomes = ids.map(
      (id): MarkOutcome => (done.delete(id) ? "changed" : known.has(id) ? "unchanged" : "unknown")
    )
    return [outcomes, updated(changed)]
  }

export const retryNow =
  (peer: Handle, now: number): FastWrite<void> =>
  (q) => {
    q.all(RETRY_NOW, [now, now, peer])
    return [undefined, []]
  }
