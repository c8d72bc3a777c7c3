/**
 * File offers in the agent store (PROTOCOL.md §15): the sender records what it offers, the receiver what
 * it was offered; both are idempotent by id, and an id reused for another file is a conflict.
 */
import { Effect, Schema } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import { safeFileName } from "../../../domain/agent/fileName.js"
import { ByteCount, type IncomingTransfer } from "../../../domain/agent/transfers.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import { ensureContact } from "./contacts.js"
import type { StoreDb } from "./database.js"
import { decodeTransfers } from "./rows.js"
import { invalid, type TransferRows, updated } from "./transferRows.js"

const isByteCount = Schema.is(ByteCount)

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

export const makeOffers = (
  db: StoreDb,
  { sql, cols, select, withLive }: TransferRows
): Pick<AgentStoreService, "offerFile" | "receiveFileOffer"> => ({
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
  })
})
