/**
 * What the transfer operations share (see `transfers.ts`): the row selection, the error texts and the
 * in-memory offsets of live transfers (`transferProgress.ts`) that reads merge.
 */
import { Effect } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import type { Transfer, TransferRef } from "../../../domain/agent/transfers.js"
import type { StoreDb } from "./database.js"
import { decodeTransfers, TRANSFER_COLUMNS } from "./rows.js"

export const keyOf = (ref: TransferRef) => `${ref.direction}\u0000${ref.peer}\u0000${ref.id}`
export const invalid = (message: string) => new AgentStoreError({ reason: "InvalidArgument", message })
export const notFound = (ref: TransferRef) =>
  new AgentStoreError({
    reason: "NotFound",
    message: `No ${ref.direction === "out" ? "outgoing" : "incoming"} transfer ${ref.id} with ${ref.peer} is stored.`
  })
export const updated = (t: Transfer): StoreEvent => ({ _tag: "agent.TransferUpdated", transfer: t })

/** A live transfer's progress, kept in memory (see `transferProgress.ts`). */
export interface Progress {
  readonly ref: TransferRef
  readonly size: number
  offset: number
  persistedOffset: number
  persistedAt: number
  publishedOffset: number
  publishedAt: number
}

export const makeTransferRows = (db: StoreDb) => {
  const { sql } = db
  /** By `keyOf`: the live transfers' progress. */
  const live = new Map<string, Progress>()
  const cols = sql.literal(TRANSFER_COLUMNS)
  const where = (ref: TransferRef) => sql`direction = ${ref.direction} AND peer = ${ref.peer} AND id = ${ref.id}`
  const select = (ref: TransferRef) =>
    Effect.map(Effect.flatMap(sql`SELECT ${cols} FROM transfers WHERE ${where(ref)}`, decodeTransfers), (r) => r[0])
  /** The stored row with this process's newer offset, if any. */
  const withLive = (t: Transfer): Transfer => {
    const p = live.get(keyOf({ direction: t.direction, peer: t.peer, id: t.id }))
    if (p === undefined) return t
    return t.direction === "out" ? { ...t, ackedOffset: p.offset } : { ...t, receivedOffset: p.offset }
  }
  return { sql, cols, live, where, select, withLive }
}

export type TransferRows = ReturnType<typeof makeTransferRows>
