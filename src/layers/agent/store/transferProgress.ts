/**
 * The progress of file transfers (PROTOCOL.md §15; issue 4, section 3: "resume from the received offset after a
 * broken connection or restart"; "a 1 GiB file must transfer with flat memory use").
 *
 * Progress arrives once per data record (up to 64 KiB), far too often for a write each: the latest
 * offset of each live transfer is kept in memory, written (relaxed) when it moved `persistBytes` or
 * `persistMs` since the last write, and at every state change and when the store closes. Events are
 * throttled the same way with `publishBytes` / `publishMs`. Reads merge the in-memory offset, so
 * within the process the offset is always current; after a crash it may lag by up to the thresholds,
 * which only makes the transfer resume a little earlier (never later: the receiver's offset is only
 * reported after its bytes were written).
 */
import { Effect } from "effect"
import { isTerminalTransfer, type Transfer, type TransferRef } from "../../../domain/agent/transfers.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { StoreDb } from "./database.js"
import { invalid, keyOf, notFound, type TransferRows } from "./transferRows.js"

export interface ProgressPolicy {
  /** Write the offset once it moved this many bytes since the last write (default 8 MiB). */
  readonly persistBytes: number
  /** … or this long after the last write (default 1 s). */
  readonly persistMs: number
  /** Publish a progress event once the offset moved this many bytes (default 1 MiB) … */
  readonly publishBytes: number
  /** … or this long after the last event (default 100 ms). */
  readonly publishMs: number
}

export const defaultProgressPolicy: ProgressPolicy = {
  persistBytes: 8 * 1024 * 1024,
  persistMs: 1000,
  publishBytes: 1024 * 1024,
  publishMs: 100
}

/** `fileProgress`'s periodic write, for the synchronous connection (the same statement as the effectful one). */
const PERSIST_OFFSET = `UPDATE transfers SET byte_offset = ?, updated_at = ?
  WHERE direction = ? AND peer = ? AND id = ? AND state NOT IN ('done', 'cancelled', 'failed')`

export const makeProgress = (db: StoreDb, rows: TransferRows, policy: ProgressPolicy) =>
  Effect.gen(function* () {
    const { sql, live, where, select } = rows
    /** Writes every buffered offset that is newer than the stored one (at close). */
    const flushAll = Effect.gen(function* () {
      const dirty = [...live.values()].filter((p) => p.offset !== p.persistedOffset)
      if (dirty.length === 0) return
      yield* db.durable(
        Effect.as(
          Effect.forEach(
            dirty,
            (p) =>
              sql`UPDATE transfers SET byte_offset = ${p.offset}
                WHERE ${where(p.ref)} AND state NOT IN ('done', 'cancelled', 'failed')`,
            { discard: true }
          ),
          [undefined, []] as const
        )
      )
    })
    yield* Effect.addFinalizer(() =>
      flushAll.pipe(Effect.catchAll((e) => Effect.logWarning("agent store: could not save transfer progress", e)))
    )
    const fileProgress: AgentStoreService["fileProgress"] = Effect.fn("AgentStore.fileProgress")(function* ({
      ref,
      offset,
      now
    }) {
      const key = keyOf(ref)
      let progress = live.get(key)
      if (progress === undefined) {
        const stored = yield* db.read(select(ref))
        if (stored === undefined) return yield* notFound(ref)
        // A late report for a finished transfer changes nothing.
        if (isTerminalTransfer(stored.state)) return
        const at = stored.direction === "out" ? stored.ackedOffset : stored.receivedOffset
        progress = {
          ref,
          size: stored.size,
          offset: at,
          persistedOffset: at,
          persistedAt: now,
          publishedOffset: at,
          publishedAt: now
        }
        live.set(key, progress)
      }
      if (!(Number.isInteger(offset) && offset >= 0 && offset <= progress.size)) {
        return yield* invalid(`Offset ${offset} is outside file ${ref.id} of ${progress.size} bytes.`)
      }
      const p = progress
      p.offset = offset
      const end = offset === p.size
      if (
        end ||
        Math.abs(offset - p.persistedOffset) >= policy.persistBytes ||
        now - p.persistedAt >= policy.persistMs
      ) {
        if (db.fast !== undefined) {
          // The same relaxed write on the synchronous connection (`fastDb.ts`): through the effectful
          // client it cost ~0.8 ms of CPU (two pragmas, a transaction, spans), once per 8 MiB on both
          // sides of every transfer (issue 15).
          yield* db.fast.relaxed((q) => {
            q.all(PERSIST_OFFSET, [offset, now, ref.direction, ref.peer, ref.id])
            return [undefined, []] as const
          })
        } else {
          yield* db.relaxed(
            Effect.as(
              sql`UPDATE transfers SET byte_offset = ${offset}, updated_at = ${now}
                WHERE ${where(ref)} AND state NOT IN ('done', 'cancelled', 'failed')`,
              [undefined, []] as const
            )
          )
        }
        p.persistedOffset = offset
        p.persistedAt = now
      }
      if (
        end ||
        Math.abs(offset - p.publishedOffset) >= policy.publishBytes ||
        now - p.publishedAt >= policy.publishMs
      ) {
        p.publishedOffset = offset
        p.publishedAt = now
        yield* db.publish([{ _tag: "agent.TransferProgress", ref, offset, size: p.size }])
      }
    })

    /** After a state change: a finished transfer is forgotten, a live one's offset is the stored one. */
    const settled = (ref: TransferRef, t: Transfer, now: number) =>
      Effect.sync(() => {
        const key = keyOf(ref)
        const p = live.get(key)
        if (isTerminalTransfer(t.state)) live.delete(key)
        else if (p !== undefined) {
          const at = t.direction === "out" ? t.ackedOffset : t.receivedOffset
          p.offset = at
          p.persistedOffset = at
          p.persistedAt = now
        }
      })

    return { fileProgress, settled }
  })
