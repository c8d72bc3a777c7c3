/**
 * File transfers (PROTOCOL.md §15; issue 4, section 3: "resume from the received offset after a
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
import { Effect, Schema } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import { safeFileName } from "../../../domain/agent/fileName.js"
import {
  ByteCount,
  type IncomingTransfer,
  IncomingTransferState,
  isTerminalTransfer,
  nextTransfer,
  OutgoingTransferState,
  type Transfer,
  type TransferRef
} from "../../../domain/agent/transfers.js"
import type { Handle } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import { ensureContact } from "./contacts.js"
import type { StoreDb } from "./database.js"
import { decodeTransfers, TRANSFER_COLUMNS } from "./rows.js"

type TransferOps = Pick<
  AgentStoreService,
  "offerFile" | "receiveFileOffer" | "fileProgress" | "fileState" | "transfer" | "transfers"
>

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

interface Progress {
  readonly ref: TransferRef
  readonly size: number
  offset: number
  persistedOffset: number
  persistedAt: number
  publishedOffset: number
  publishedAt: number
}

const keyOf = (ref: TransferRef) => `${ref.direction}\u0000${ref.peer}\u0000${ref.id}`
const isByteCount = Schema.is(ByteCount)
const invalid = (message: string) => new AgentStoreError({ reason: "InvalidArgument", message })

export const makeTransferOps = (db: StoreDb, policy: ProgressPolicy = defaultProgressPolicy) =>
  Effect.gen(function* () {
    const { sql } = db
    const cols = sql.literal(TRANSFER_COLUMNS)
    const live = new Map<string, Progress>()

    const where = (ref: TransferRef) => sql`direction = ${ref.direction} AND peer = ${ref.peer} AND id = ${ref.id}`
    const select = (ref: TransferRef) =>
      Effect.map(Effect.flatMap(sql`SELECT ${cols} FROM transfers WHERE ${where(ref)}`, decodeTransfers), (r) => r[0])
    /** The stored row with this process's newer offset, if any. */
    const withLive = (t: Transfer): Transfer => {
      const p = live.get(keyOf({ direction: t.direction, peer: t.peer, id: t.id }))
      if (p === undefined) return t
      return t.direction === "out" ? { ...t, ackedOffset: p.offset } : { ...t, receivedOffset: p.offset }
    }
    const notFound = (ref: TransferRef) =>
      new AgentStoreError({
        reason: "NotFound",
        message: `No ${ref.direction === "out" ? "outgoing" : "incoming"} transfer ${ref.id} with ${ref.peer} is stored.`
      })
    const updated = (t: Transfer): StoreEvent => ({ _tag: "agent.TransferUpdated", transfer: t })

    const checkOffer = (size: number, chunk: number) =>
      !isByteCount(size)
        ? Effect.fail(invalid(`A file size must be a whole number of bytes below 2^53, not ${size}.`))
        : !(Number.isInteger(chunk) && chunk >= 1 && chunk <= 65_536)
          ? Effect.fail(invalid(`A chunk size must be 1 to 65 536 bytes, not ${chunk}.`))
          : Effect.void

    const conflict = (id: string) =>
      new AgentStoreError({
        reason: "Conflict",
        message: `Transfer id ${id} is already used for another file: offer the file under a fresh id.`
      })

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

    const ops: TransferOps = {
      offerFile: Effect.fn("AgentStore.offerFile")(function* (input) {
        const { id, peer, path, name, size, etag, chunk, now } = input
        yield* checkOffer(size, chunk)
        return yield* db.durable(
          Effect.gen(function* () {
            yield* ensureContact(db, peer, now)
            const [added] = yield* Effect.flatMap(
              sql`INSERT INTO transfers (direction, id, peer, name, offered_name, size, etag, chunk, path,
                  byte_offset, state, created_at, updated_at)
                VALUES ('out', ${id}, ${peer}, ${name}, ${name}, ${size}, ${etag}, ${chunk}, ${path},
                  0, 'offered', ${now}, ${now})
                ON CONFLICT (direction, peer, id) DO NOTHING RETURNING ${cols}`,
              decodeTransfers
            )
            if (added?.direction === "out") return [added, [updated(added)]] as const
            const existing = yield* select({ direction: "out", peer, id })
            if (
              existing?.direction !== "out" ||
              existing.path !== path ||
              existing.name !== name ||
              existing.size !== size ||
              existing.etag !== etag
            ) {
              return yield* conflict(id)
            }
            return [withLive(existing) as typeof existing, []] as const
          })
        )
      }),

      receiveFileOffer: Effect.fn("AgentStore.receiveFileOffer")(function* (input) {
        const { id, peer, offeredName, size, etag, chunk, tempPath, now } = input
        yield* checkOffer(size, chunk)
        const name = safeFileName(offeredName)
        return yield* db.durable<{ readonly outcome: "new" | "existing"; readonly transfer: IncomingTransfer }>(
          Effect.gen(function* () {
            yield* ensureContact(db, peer, now)
            const [added] = yield* Effect.flatMap(
              sql`INSERT INTO transfers (direction, id, peer, name, offered_name, size, etag, chunk, temp_path,
                  byte_offset, state, created_at, updated_at)
                VALUES ('in', ${id}, ${peer}, ${name}, ${offeredName}, ${size}, ${etag}, ${chunk}, ${tempPath},
                  0, 'offered', ${now}, ${now})
                ON CONFLICT (direction, peer, id) DO NOTHING RETURNING ${cols}`,
              decodeTransfers
            )
            if (added?.direction === "in") return [{ outcome: "new", transfer: added }, [updated(added)]] as const
            const existing = yield* select({ direction: "in", peer, id })
            if (existing?.direction !== "in" || existing.size !== size || existing.etag !== etag) {
              return yield* conflict(id)
            }
            return [{ outcome: "existing", transfer: withLive(existing) as typeof existing }, []] as const
          })
        )
      }),

      fileProgress: Effect.fn("AgentStore.fileProgress")(function* ({ ref, offset, now }) {
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
          yield* db.relaxed(
            Effect.as(
              sql`UPDATE transfers SET byte_offset = ${offset}, updated_at = ${now}
                WHERE ${where(ref)} AND state NOT IN ('done', 'cancelled', 'failed')`,
              [undefined, []] as const
            )
          )
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
      }),

      fileState: Effect.fn("AgentStore.fileState")(function* (input) {
        const { ref, state, now, detail, finalPath, sha256 } = input
        const fits = ref.direction === "out" ? Schema.is(OutgoingTransferState) : Schema.is(IncomingTransferState)
        if (!fits(state))
          return yield* invalid(
            `"${state}" is not a state of an ${ref.direction === "out" ? "outgoing" : "incoming"} transfer.`
          )
        if (finalPath !== undefined && ref.direction === "out")
          return yield* invalid("Only an incoming transfer has a final path.")
        const key = keyOf(ref)
        return yield* db
          .durable(
            Effect.gen(function* () {
              const stored = yield* select(ref)
              if (stored === undefined) return yield* notFound(ref)
              const step = nextTransfer(stored.state, state)
              if (step._tag === "Refused") {
                return yield* new AgentStoreError({
                  reason: "InvalidTransition",
                  message: `Transfer ${ref.id} is already ${stored.state}; it cannot become ${state}.`
                })
              }
              if (step._tag === "Unchanged" && isTerminalTransfer(state)) return [stored, []] as const
              const offset =
                input.offset ??
                live.get(key)?.offset ??
                (stored.direction === "out" ? stored.ackedOffset : stored.receivedOffset)
              if (!(Number.isInteger(offset) && offset >= 0 && offset <= stored.size)) {
                return yield* invalid(`Offset ${offset} is outside file ${ref.id} of ${stored.size} bytes.`)
              }
              const [row] = yield* Effect.flatMap(
                sql`UPDATE transfers SET state = ${state}, byte_offset = ${offset}, updated_at = ${now},
                  detail = ${detail ?? stored.detail}, final_path = COALESCE(${finalPath ?? null}, final_path),
                  sha256 = COALESCE(${sha256 ?? null}, sha256)
                WHERE ${where(ref)} RETURNING ${cols}`,
                decodeTransfers
              )
              if (row === undefined) return yield* notFound(ref)
              return [row, [updated(row)]] as const
            })
          )
          .pipe(
            Effect.tap((t) =>
              Effect.sync(() => {
                const p = live.get(key)
                if (isTerminalTransfer(t.state)) live.delete(key)
                else if (p !== undefined) {
                  const at = t.direction === "out" ? t.ackedOffset : t.receivedOffset
                  p.offset = at
                  p.persistedOffset = at
                  p.persistedAt = now
                }
              })
            )
          )
      }),

      transfer: Effect.fn("AgentStore.transfer")(function* (ref) {
        const stored = yield* db.read(select(ref))
        return stored === undefined ? undefined : withLive(stored)
      }),

      transfers: Effect.fn("AgentStore.transfers")(function* (input = {}) {
        const peer: Handle | undefined = input.peer
        const rows = yield* db.read(
          Effect.flatMap(
            sql`SELECT ${cols} FROM transfers WHERE 1 = 1
              ${peer === undefined ? sql.literal("") : sql`AND peer = ${peer}`}
              ${input.active === true ? sql.literal("AND state NOT IN ('done', 'cancelled', 'failed')") : sql.literal("")}
              ORDER BY seq`,
            decodeTransfers
          )
        )
        return rows.map(withLive)
      })
    }
    return ops
  })
