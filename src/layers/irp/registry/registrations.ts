/**
 * Registrations in the SQL registry, group-committed (issue 15; PROTOCOL.md §17). A registration is one
 * conditional upsert (`ON CONFLICT … DO UPDATE … WHERE stored.seq < excluded.seq`), so racing
 * registrations for one device keep the highest `seq`; the device-cap count and the upsert run in one
 * transaction under a per-handle advisory lock so that two new devices cannot both slip under the cap.
 * SQLite has one connection per process and serialises every transaction anyway.
 *
 * Where the storage offers `SyncWrites` (a SQLite file), a batch runs as plain function calls inside one
 * synchronous transaction, with the same statements (compiled once from the effectful ones) and the same
 * answers. When the file is locked elsewhere (`Busy`, nothing written) the batch is tried again after a
 * pause that leaves the event loop free, up to the busy timeout, and then takes the effectful path, which
 * reports the failure. Either way a registration is answered only after its batch has committed.
 */
import { SqlError } from "@effect/sql/SqlError"
import type { Statement } from "@effect/sql/Statement"
import { Effect, Either, Fiber, Option, Runtime, type Scope } from "effect"
import type { Handle } from "../../../domain/brands.js"
import { type Binding, type RegistryChange, RegistryError } from "../../../domain/irp/registry.js"
import type { RegisterRequest } from "../../../services/IrpRegistry.js"
import { type SyncStatements, SyncWrites, type SyncWritesService } from "../../../services/SyncWrites.js"
import { wallClockPause } from "./changes.js"
import { compiledOnce } from "./compiled.js"
import { pgLocks, pgRegisterAll } from "./pgRegister.js"
import { addressesJson, addressJson, bindingsNow, countOf, decodeBindings } from "./rows.js"
import { type Store, storageError } from "./store.js"

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

/** Longest pause between two tries of a batch whose file is locked elsewhere (they double up to it), ms. */
const BUSY_PAUSE_MAX_MS = 50

type Outcome = Either.Either<ReadonlyArray<Binding>, RegistryError>

interface PendingRegistration {
  readonly request: RegisterRequest
  readonly now: number
  readonly leaseMs: number
  /** Answers the registration (resumes the fiber waiting for it; a no-op once that fiber was interrupted). */
  readonly resume: (answer: Effect.Effect<ReadonlyArray<Binding>, RegistryError>) => void
}

/** 32-bit FNV-1a of a handle, as a signed int4: the second key of the per-handle advisory lock. */
const handleLockKey = (handle: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < handle.length; i++) h = Math.imul(h ^ handle.charCodeAt(i), 0x01000193)
  return h | 0
}

const tooManyDevices = (handle: Handle, others: number) =>
  new RegistryError({
    reason: "TooManyDevices",
    message: `${handle} already has ${others} devices registered, the most allowed: deregister one first.`
  })

const staleSequence = (request: RegisterRequest, stored: string | undefined) =>
  new RegistryError({
    reason: "StaleSequence",
    message:
      `Registration seq ${request.seq} for device ${request.deviceId} is not greater than the stored ${stored ?? "?"}` +
      ": it is stale or replayed; send a larger seq (the device's clock in milliseconds will do)."
  })

/**
 * A batch starts once the event loop has read every socket that is ready (`setImmediate` runs after
 * that phase): used by the PostgreSQL Lookup readers (`pgIdentities.ts`) to gather what is waiting.
 */
export const afterReadyInput = Effect.async<void>((resume) => {
  const timer = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(timer))
})

/** The statements of one registration, as both paths run them. */
const statementsOf = ({ sql, text, millis }: Store) => ({
  countOthers: (handle: string, deviceId: string, now: number) =>
    sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM irp_bindings
      WHERE handle = ${text(handle)} AND device_id <> ${text(deviceId)} AND expires_at > ${millis(now)}`,
  upsert: (
    handle: string,
    deviceId: string,
    addresses: string,
    observed: string | null,
    expiresAt: number,
    seq: bigint,
    now: number
  ) =>
    sql`INSERT INTO irp_bindings
        (handle, device_id, addresses, observed, expires_at, seq, updated_at)
      VALUES (${handle}, ${deviceId}, ${addresses}, ${observed}, ${expiresAt}, ${seq}, ${now})
      ON CONFLICT (handle, device_id) DO UPDATE SET
        addresses = excluded.addresses, observed = excluded.observed, expires_at = excluded.expires_at,
        seq = excluded.seq, updated_at = excluded.updated_at
      WHERE irp_bindings.seq < excluded.seq
      RETURNING device_id`,
  storedSeq: (handle: string, deviceId: string) =>
    sql<{ readonly seq: string }>`SELECT CAST(seq AS TEXT) AS seq
      FROM irp_bindings WHERE handle = ${handle} AND device_id = ${deviceId}`
})

/** A registration as the writers take it: the request, its time and its checked lease. */
export type Registration = Pick<PendingRegistration, "request" | "now" | "leaseMs">

/** A defect (a bug) while a batch ran: its registrations are answered with it rather than left waiting. */
const failedToRegister = (cause: unknown) =>
  new RegistryError({ reason: "Storage", message: "The registry failed to register.", cause })

/**
 * Starts the group commit (stopped with the scope) and returns what registers one: it waits for its
 * batch's commit and answers with the bindings the registration leaves. `bindingsStatement` reads them.
 *
 * How registrations wait, cheaply: they gather in `pending`, and a batch starts once the event loop has
 * read every socket that is ready (`setImmediate` runs after that phase; SQLite commits synchronously, so
 * a batch that started at the first registration would block the loop before the others arrived, and
 * every batch would hold one). Each registration waits in one `Effect.async` without a canceler: a
 * canceler costs an interruption handler per registration (`onInterrupt`, about four times the rest of
 * the wait, measured), and a registration whose requester is interrupted (its connection closed) before
 * its batch starts is simply written with it, as it would be a moment later, once the batch had begun;
 * its answer goes nowhere, as for any request of a closed connection.
 *
 * With `SyncWrites` (a SQLite file) a batch runs in the `setImmediate` callback itself: one synchronous
 * transaction, then the change feed, then the answers, with no fiber of its own. A batch whose file is
 * locked elsewhere, and every batch on the effectful path (PostgreSQL, a private SQLite database), runs
 * in a fiber of its own, at most `writers` at once; one that ends starts the next.
 */
export const startRegistrations = (
  store: Store,
  bindingsStatement: (handle: Handle, now: number) => Statement<unknown>
): Effect.Effect<
  (registration: Registration) => Effect.Effect<ReadonlyArray<Binding>, RegistryError>,
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const { sql, policy, write, feed } = store
    const statements = statementsOf(store)
    /**
     * One registration inside a batch's transaction: the device cap, the conditional upsert, the bindings
     * it leaves. A refusal (cap, stale seq) writes nothing, so it is this registration's answer and the
     * batch goes on; a driver failure fails the whole batch.
     */
    const registerOne = ({ request, now, leaseMs }: PendingRegistration) =>
      Effect.gen(function* () {
        const { handle, deviceId, addresses, seq, observed } = request
        const others = countOf(yield* statements.countOthers(handle, deviceId, now))
        if (others >= policy.maxDevicesPerHandle) return yield* tooManyDevices(handle, others)
        const stored = yield* statements.upsert(
          handle,
          deviceId,
          addressesJson(addresses),
          addressJson(observed),
          now + leaseMs,
          seq,
          now
        )
        if (stored.length === 0) {
          const current = yield* statements.storedSeq(handle, deviceId)
          return yield* staleSequence(request, current[0]?.seq)
        }
        return yield* Effect.flatMap(bindingsStatement(handle, now), decodeBindings)
      }).pipe(
        Effect.map((bindings) => Either.right<ReadonlyArray<Binding>>(bindings)),
        Effect.catchTag("RegistryError", (refusal) => Effect.succeed(Either.left(refusal)))
      )

    const answer = (jobs: ReadonlyArray<PendingRegistration>, outcomes: ReadonlyArray<Outcome>): void => {
      for (let i = 0; i < jobs.length; i++) {
        const outcome = outcomes[i]!
        jobs[i]!.resume(Either.isRight(outcome) ? Effect.succeed(outcome.right) : Effect.fail(outcome.left))
      }
    }
    const failAll = (jobs: ReadonlyArray<PendingRegistration>, error: RegistryError): void => {
      for (const job of jobs) job.resume(Effect.fail(error))
    }
    const changesOf = (jobs: ReadonlyArray<PendingRegistration>, outcomes: ReadonlyArray<Outcome>) => {
      const changes: Array<RegistryChange> = []
      for (let i = 0; i < jobs.length; i++)
        if (Either.isRight(outcomes[i]!)) changes.push({ handle: jobs[i]!.request.handle, kind: "bindings" })
      return changes
    }

    /** A batch's registrations one after the other; PostgreSQL: in one statement per wave (`pgRegister.ts`). */
    const registerAll = sql.onDialectOrElse({
      pg: () => pgRegisterAll(store),
      orElse: () => (jobs: ReadonlyArray<PendingRegistration>) => Effect.forEach(jobs, registerOne)
    })

    /** Runs `jobs` in one transaction and answers each (all of them with the failure if the batch fails). */
    const registerBatch = (jobs: ReadonlyArray<PendingRegistration>): Effect.Effect<void> => {
      // Advisory locks in key order, each once: batches running side by side cannot wait on each other in a
      // cycle. One statement takes them all, in the order of its array.
      const keys = [...new Set(jobs.map((job) => handleLockKey(job.request.handle)))].sort((a, b) => a - b)
      const locks = sql.onDialectOrElse({ pg: () => pgLocks(store, keys), orElse: () => Effect.void })
      return write(
        Effect.gen(function* () {
          yield* locks
          const outcomes = yield* registerAll(jobs)
          return [outcomes, changesOf(jobs, outcomes)] as const
        })
      ).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.sync(() => failAll(jobs, error)),
          onSuccess: (outcomes) => Effect.sync(() => answer(jobs, outcomes))
        })
      )
    }

    /**
     * The batch on `SyncWrites`: one synchronous transaction (the feed's in-transaction step is
     * PostgreSQL's only, and `SyncWrites` exists on SQLite only). `undefined` when a statement does not
     * compile as expected (the effectful path then runs every batch).
     */
    const syncPath = (writes: SyncWritesService) => {
      const count = compiledOnce(statements.countOthers, ["text", "text", "number"])
      const upsert = compiledOnce(statements.upsert, ["text", "text", "text", "text", "number", "bigint", "number"])
      const storedSeq = compiledOnce(statements.storedSeq, ["text", "text"])
      const bindings = compiledOnce(bindingsStatement, ["text", "number"])
      if (count === undefined || upsert === undefined || storedSeq === undefined || bindings === undefined)
        return undefined
      const registerNow = (db: SyncStatements, { request, now, leaseMs }: PendingRegistration): Outcome => {
        const { handle, deviceId, addresses, seq, observed } = request
        const others = countOf(db.all(count.text, count.params(handle, deviceId, now)) as never)
        if (others >= policy.maxDevicesPerHandle) return Either.left(tooManyDevices(handle, others))
        const stored = db.all(
          upsert.text,
          upsert.params(handle, deviceId, addressesJson(addresses), addressJson(observed), now + leaseMs, seq, now)
        )
        if (stored.length === 0) {
          const current = db.all(storedSeq.text, storedSeq.params(handle, deviceId))
          return Either.left(staleSequence(request, current[0]?.seq as string | undefined))
        }
        return bindingsNow(db.all(bindings.text, bindings.params(handle, now)))
      }
      /**
       * One try: the transaction, then (committed) the change feed and the answers, all before it returns.
       * `false` when the file was locked elsewhere (nothing written, nobody answered).
       */
      const commitNow = (jobs: ReadonlyArray<PendingRegistration>): boolean => {
        const committed = writes.transaction((db) => jobs.map((job) => registerNow(db, job)))
        if (Either.isRight(committed)) {
          feed.afterCommitNow(changesOf(jobs, committed.right))
          answer(jobs, committed.right)
          return true
        }
        if (committed.left._tag === "Busy") return false
        const cause = committed.left.cause
        failAll(jobs, storageError(new SqlError({ message: "Failed to execute statement", cause })))
        return true
      }
      /**
       * A batch whose file another process holds: tried again after pauses that leave the event loop free,
       * up to the busy timeout; then the effectful path reports what it finds.
       */
      const whenBusy = (jobs: ReadonlyArray<PendingRegistration>, waited: number): Effect.Effect<void> => {
        if (waited >= writes.busyTimeoutMs) return registerBatch(jobs)
        const pause = Math.min(BUSY_PAUSE_MAX_MS, 1 + waited)
        return Effect.flatMap(wallClockPause(pause), () =>
          commitNow(jobs) ? Effect.void : whenBusy(jobs, waited + pause)
        )
      }
      return { commitNow, whenBusy }
    }

    const writes = Option.getOrUndefined(yield* Effect.serviceOption(SyncWrites))
    const sync = writes === undefined ? undefined : syncPath(writes)

    const writers = sql.onDialectOrElse({ pg: () => REGISTER_WRITERS.pg, orElse: () => REGISTER_WRITERS.sqlite })
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const pending: Array<PendingRegistration> = []
    const running = new Set<Fiber.RuntimeFiber<void>>()
    let scheduled = false
    let stopped = false
    const schedule = () => {
      if (scheduled || stopped || running.size >= writers || pending.length === 0) return
      scheduled = true
      setImmediate(start)
    }
    /** Runs `batch` in a fiber that starts the next batch when it ends. */
    const fork = (jobs: ReadonlyArray<PendingRegistration>, batch: Effect.Effect<void>) => {
      // A defect (a bug) or the scope's end still answers the batch's registrations, which would
      // otherwise wait forever.
      const fiber = runFork(
        batch.pipe(
          Effect.catchAllDefect((cause) => Effect.sync(() => failAll(jobs, failedToRegister(cause)))),
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              for (const job of jobs) job.resume(Effect.interrupt)
            })
          )
        )
      )
      running.add(fiber)
      fiber.addObserver(() => {
        running.delete(fiber)
        schedule()
      })
    }
    /** Starts a batch of what is waiting. */
    const start = () => {
      scheduled = false
      if (stopped || running.size >= writers || pending.length === 0) return
      const jobs = pending.splice(0, REGISTER_BATCH)
      if (sync === undefined) fork(jobs, registerBatch(jobs))
      else {
        let answered: boolean
        try {
          answered = sync.commitNow(jobs)
        } catch (cause) {
          failAll(jobs, failedToRegister(cause))
          answered = true
        }
        if (!answered) fork(jobs, sync.whenBusy(jobs, 0))
      }
      schedule()
    }
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        stopped = true
        for (const job of pending.splice(0)) job.resume(Effect.interrupt)
        return Fiber.interruptAll(running)
      })
    )
    return ({ request, now, leaseMs }: Registration) =>
      Effect.async<ReadonlyArray<Binding>, RegistryError>((resume) => {
        if (stopped) return resume(Effect.interrupt)
        pending.push({ request, now, leaseMs, resume })
        schedule()
      })
  })
