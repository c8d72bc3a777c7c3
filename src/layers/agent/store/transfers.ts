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
import {
  IncomingTransferState,
  isTerminalTransfer,
  nextTransfer,
  OutgoingTransferState,
  type TransferState
} from "../../../domain/agent/transfers.js"
import type { Handle } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { StoreDb } from "./database.js"
import { decodeTransfers } from "./rows.js"
import { makeOffers } from "./transferOffers.js"
import { defaultProgressPolicy, makeProgress, type ProgressPolicy } from "./transferProgress.js"
import { invalid, keyOf, makeTransferRows, notFound, updated } from "./transferRows.js"

export { defaultProgressPolicy, type ProgressPolicy } from "./transferProgress.js"

type TransferOps = Pick<
  AgentStoreService,
  "offerFile" | "receiveFileOffer" | "fileProgress" | "fileState" | "transfer" | "transfers"
>

/**
 * The states a transfer passes through while its bytes flow, which the protocol repairs by itself if
 * a power cut rolls them back (database.ts, "relaxed" writes): the sender re-offers every unfinished
 * transfer when a session comes up, the receiver answers from its partial file, both re-hash the
 * prefix (PROTOCOL.md 5.4.3, 15.6). Written with `synchronous = NORMAL`, they take an fsync each off
 * the path of every transfer (`sending` at the accept and again with the digest before `<FileDone>`,
 * `receiving` at the first record, `verifying` before the digest check; issue 15). The states a user
 * acts on or is told about (offered, held, accepted, done, failed, cancelled) stay durable, and a
 * durable commit makes every earlier relaxed one durable too (one WAL, in order).
 */
const RELAXED_STATES: ReadonlySet<TransferState> = new Set<TransferState>(["sending", "receiving", "verifying"])

export const makeTransferOps = (db: StoreDb, policy: ProgressPolicy = defaultProgressPolicy) =>
  Effect.gen(function* () {
    const rows = makeTransferRows(db)
    const { sql, cols, live, where, select, withLive } = rows
    const { fileProgress, settled } = yield* makeProgress(db, rows, policy)

    const ops: TransferOps = {
      ...makeOffers(db, rows),
      fileProgress,

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
        const write = RELAXED_STATES.has(state) ? db.relaxed : db.durable
        return yield* write(
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
        ).pipe(Effect.tap((t) => settled(ref, t, now)))
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
