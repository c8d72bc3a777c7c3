/**
 * Registrations in the SQL registry, group-committed (issue 15; PROTOCOL.md §17). A registration is one
 * conditional upsert (`ON CONFLICT … DO UPDATE … WHERE stored.seq < excluded.seq`), so racing
 * registrations for one device keep the highest `seq`; the device-cap count and the upsert run in one
 * transaction under a per-handle advisory lock so that two new devices cannot both slip under the cap.
 * SQLite has one connection per process and serialises every transaction anyway.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Deferred, Effect, Either, Queue, type Scope } from "effect"
import type { Binding, RegistryChange, RegistryError } from "../../../domain/irp/registry.js"
import type { RegisterRequest } from "../../../services/IrpRegistry.js"
import { pgLocks, pgRegisterAll } from "./pgRegister.js"
import { addressesJson, addressJson, countOf } from "./rows.js"
import { fail, type Store } from "./store.js"

/**
 * The registrations waiting when a transaction starts share it, up to this many, so that a burst costs one
 * durable commit (one WAL sync on SQLite, one WAL flush on PostgreSQL) and one transaction's statements
 * around them instead of one each.
 */
const REGISTER_BATCH = 64
/**
 * Transactions of registrations running at once: one on SQLite (its single connection serialises them
 * anyway), two on PostgreSQL, whose pool can run them side by side (their per-handle advisory locks are
 * taken in key order, so two batches cannot deadlock). Two rather than more: the larger each batch, the
 * less server CPU per registration (a batch takes five statements however many it holds; measured).
 */
const REGISTER_WRITERS = { sqlite: 1, pg: 2 } as const

interface PendingRegistration {
  readonly request: RegisterRequest
  readonly now: number
  readonly leaseMs: number
  readonly done: Deferred.Deferred<ReadonlyArray<Binding>, RegistryError>
}

/** 32-bit FNV-1a of a handle, as a signed int4: the second key of the per-handle advisory lock. */
const handleLockKey = (handle: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < handle.length; i++) h = Math.imul(h ^ handle.charCodeAt(i), 0x01000193)
  return h | 0
}

/**
 * A batch starts once the event loop has read every socket that is ready (`setImmediate` runs after
 * that phase): SQLite commits synchronously, so a writer that started at the first registration would
 * block the loop before the others arrived, and every batch would be one registration.
 */
export const afterReadyInput = Effect.async<void>((resume) => {
  const timer = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(timer))
})

/**
 * Starts the writers (scoped) and returns the queue that feeds them; each pending registration is answered
 * through its `done`. `selectBindings` reads what a registration leaves.
 */
export const startRegistrations = (
  store: Store,
  selectBindings: (
    handle: RegisterRequest["handle"],
    now: number
  ) => Effect.Effect<ReadonlyArray<Binding>, RegistryError | SqlError>
): Effect.Effect<Queue.Enqueue<PendingRegistration>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { sql, policy, write, text, millis } = store
    /**
     * One registration inside a batch's transaction: the device cap, the conditional upsert, the bindings
     * it leaves. A refusal (cap, stale seq) writes nothing, so it is this registration's answer and the
     * batch goes on; a driver failure fails the whole batch.
     */
    const registerOne = ({ request, now, leaseMs }: PendingRegistration) =>
      Effect.gen(function* () {
        const { handle, deviceId, addresses, seq, observed } = request
        const others = countOf(
          yield* sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM irp_bindings
            WHERE handle = ${text(handle)} AND device_id <> ${text(deviceId)} AND expires_at > ${millis(now)}`
        )
        if (others >= policy.maxDevicesPerHandle) {
          return yield* fail(
            "TooManyDevices",
            `${handle} already has ${others} devices registered, the most allowed: deregister one first.`
          )
        }
        const stored = yield* sql`INSERT INTO irp_bindings
            (handle, device_id, addresses, observed, expires_at, seq, updated_at)
          VALUES (${handle}, ${deviceId}, ${addressesJson(addresses)}, ${addressJson(observed)},
            ${now + leaseMs}, ${seq}, ${now})
          ON CONFLICT (handle, device_id) DO UPDATE SET
            addresses = excluded.addresses, observed = excluded.observed, expires_at = excluded.expires_at,
            seq = excluded.seq, updated_at = excluded.updated_at
          WHERE irp_bindings.seq < excluded.seq
          RETURNING device_id`
        if (stored.length === 0) {
          const current = yield* sql<{ readonly seq: string }>`SELECT CAST(seq AS TEXT) AS seq
            FROM irp_bindings WHERE handle = ${handle} AND device_id = ${deviceId}`
          return yield* fail(
            "StaleSequence",
            `Registration seq ${seq} for device ${deviceId} is not greater than the stored ${current[0]?.seq ?? "?"}` +
              ": it is stale or replayed; send a larger seq (the device's clock in milliseconds will do)."
          )
        }
        return yield* selectBindings(handle, now)
      }).pipe(
        Effect.map((bindings) => Either.right<ReadonlyArray<Binding>>(bindings)),
        Effect.catchTag("RegistryError", (refusal) => Effect.succeed(Either.left(refusal)))
      )

    /** A batch's registrations one after the other; PostgreSQL: in one statement per wave (`pgRegister.ts`). */
    const registerAll = sql.onDialectOrElse({
      pg: () => pgRegisterAll(store),
      orElse: () => (jobs: ReadonlyArray<PendingRegistration>) => Effect.forEach(jobs, registerOne)
    })

    /** Runs `jobs` in one transaction and answers each (all of them with the failure if the batch fails). */
    const registerBatch = (jobs: ReadonlyArray<PendingRegistration>) => {
      // Advisory locks in key order, each once: batches running side by side cannot wait on each other in a
      // cycle. One statement takes them all, in the order of its array.
      const keys = [...new Set(jobs.map((job) => handleLockKey(job.request.handle)))].sort((a, b) => a - b)
      const locks = sql.onDialectOrElse({ pg: () => pgLocks(store, keys), orElse: () => Effect.void })
      return write(
        Effect.gen(function* () {
          yield* locks
          const outcomes = yield* registerAll(jobs)
          const changes: Array<RegistryChange> = []
          jobs.forEach((job, i) => {
            if (Either.isRight(outcomes[i]!)) changes.push({ handle: job.request.handle, kind: "bindings" })
          })
          return [outcomes, changes] as const
        })
      ).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.forEach(jobs, (job) => Deferred.fail(job.done, error), { discard: true }),
          onSuccess: (outcomes) =>
            Effect.forEach(jobs, (job, i) => Deferred.complete(job.done, outcomes[i]!), { discard: true })
        })
      )
    }

    const registrations = yield* Effect.acquireRelease(Queue.unbounded<PendingRegistration>(), Queue.shutdown)
    const writers = sql.onDialectOrElse({ pg: () => REGISTER_WRITERS.pg, orElse: () => REGISTER_WRITERS.sqlite })
    for (let i = 0; i < writers; i++)
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(registrations), (first) =>
            Effect.flatMap(
              Effect.zipRight(afterReadyInput, Queue.takeUpTo(registrations, REGISTER_BATCH - 1)),
              (more) => registerBatch([first, ...more])
            )
          )
        )
      )
    return registrations
  })
