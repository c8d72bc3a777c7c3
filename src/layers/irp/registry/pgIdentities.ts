/**
 * The Lookup read on PostgreSQL, several at a time (issue 15): the Lookups waiting when a read starts
 * share one statement, up to `IDENTITY_BATCH`, as registrations share a transaction
 * (`registrations.ts`). Each statement is a round trip to the database and a pass through `pg` (and
 * `@effect/sql` where `PgReads` is missing), which cost the server more than the read itself; under
 * load, a batch of them costs about what one did.
 *
 * The statement is `certificates.ts`'s identity statement for a list of (handle, time) pairs, passed as one
 * JSON parameter (one statement text whatever the batch's size: one prepared statement, see `PgLive`),
 * with each pair's number on its rows. It runs through `PgReads` (the pool's `pg` client, no
 * `@effect/sql` machinery per statement) when the storage provides it, else through `SqlClient`. Every
 * Lookup is answered from a statement that started after the Lookup was read, so it reflects every change
 * committed before (PROTOCOL.md §17.6.2).
 *
 * A waiting Lookup is one `Effect.async` whose callback sits in an array until its batch answers; a batch
 * is a fiber of a `FiberSet` (interrupted with the scope). Measured against a `Queue` of `Deferred`s
 * taken by reader fibers, which cost a Lookup a `Deferred`, a queue offer and take and the reader's
 * steps (docs/BENCHMARKS.md, "Issue 15, fifth session").
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, FiberSet, type Scope } from "effect"
import type { Handle } from "../../../domain/brands.js"
import { RegistryError } from "../../../domain/irp/registry.js"
import type { PgReadsService } from "../../../services/PgReads.js"
import { compiledOnce } from "./compiled.js"
import { type IdentityRows, identityOf } from "./rows.js"
import type { Store } from "./store.js"

/** Lookups read by one statement, at most. */
const IDENTITY_BATCH = 64
/**
 * Statements reading at once. Few, so that batches are large: under load a batch costs the server about
 * what one read did, and two readers measured less CPU per Lookup than four (docs/BENCHMARKS.md).
 */
const IDENTITY_READERS = 2

type Answer = Effect.Effect<IdentityRows, RegistryError>

interface PendingIdentity {
  readonly handle: Handle
  readonly at: number
  /** The waiting Lookup's callback; `undefined` once it was interrupted (its answer goes nowhere). */
  resume: ((answer: Answer) => void) | undefined
}

type Row = Readonly<Record<string, unknown>>

/**
 * The Lookup read for a JSON list of `{ i, handle, at }` pairs, each pair's rows numbered `i`: the
 * handle's current certificate (`certificates.ts`'s identity statement) and its unexpired bindings.
 *
 * Each pair's rows come from index searches made for that pair (`LATERAL`): the certificate row is the
 * first entry of `irp_certificates_current` for the handle (the row itself, not its serial and then a
 * second search), the bindings a search of `irp_bindings`' key. Written as plain joins
 * (`c.serial = (subquery)`, issue 15's first sessions), the prepared statement's generic plan took
 * `json_to_recordset` for 100 rows and, on a registry of a few thousand identities, hashed the whole of
 * both tables for every batch: 1–10 ms of the database's time per batch instead of 0.1–0.7 ms, and more
 * CPU in this process too (docs/BENCHMARKS.md, "sixth session"). `OFFSET 0` keeps the bindings' subquery
 * from being flattened back into such a join.
 */
export const identityBatch = (sql: SqlClient.SqlClient, pairs: string) =>
  sql<Row>`SELECT h.i, c.serial, c.handle, c.fingerprint, c.der, c.not_before, c.not_after,
      c.status, c.revoked_at, c.reason, b.device_id, b.addresses, b.observed, b.expires_at,
      CAST(b.seq AS TEXT) AS seq, b.updated_at
    FROM json_to_recordset(CAST(${pairs} AS JSON)) AS h(i INT4, handle TEXT, at BIGINT)
    CROSS JOIN LATERAL (SELECT serial, handle, fingerprint, der, not_before, not_after, status, revoked_at,
        reason FROM irp_certificates
      WHERE handle = h.handle AND status = 'good' AND not_after > h.at
      ORDER BY not_before DESC, serial DESC LIMIT 1) AS c
    LEFT JOIN LATERAL (SELECT device_id, addresses, observed, expires_at, seq, updated_at FROM irp_bindings
      WHERE handle = c.handle AND expires_at > h.at OFFSET 0) AS b ON TRUE
    ORDER BY h.i, b.device_id`

const malformedRows = (cause: unknown) =>
  new RegistryError({
    reason: "Storage",
    message:
      "The registry database holds a malformed certificate or binding row; check what else writes to its tables.",
    cause
  })

const answer = (job: PendingIdentity, result: Answer) => {
  const resume = job.resume
  job.resume = undefined
  resume?.(result)
}

/** Starts the readers (scoped); returns `currentIdentity` through them. */
export const startIdentityReads = (
  { sql, read }: Store,
  reads: PgReadsService | undefined
): Effect.Effect<(handle: Handle, at: number) => Answer, never, Scope.Scope> =>
  Effect.gen(function* () {
    // Through `PgReads` where the storage offers it: the same statement, compiled once (see `compiled.ts`).
    const statement = (pairs: string) => identityBatch(sql, pairs)
    const compiled = reads === undefined ? undefined : compiledOnce(statement, ["text"])
    const run =
      reads === undefined || compiled === undefined
        ? statement
        : (pairs: string) => reads.all(compiled.text, compiled.params(pairs))

    const readBatch = (jobs: ReadonlyArray<PendingIdentity>): Effect.Effect<void> => {
      const pairs = JSON.stringify(jobs.map((job, i) => ({ i, handle: job.handle, at: job.at })))
      return read(run(pairs)).pipe(
        // A defect (a bug, not a database failure) answers this batch as a storage failure: no Lookup
        // waits for an answer that will not come.
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            new RegistryError({ reason: "Storage", message: "The registry's Lookup read failed.", cause: defect })
          )
        ),
        Effect.match({
          onFailure: (error) => {
            for (const job of jobs) answer(job, Effect.fail(error))
          },
          onSuccess: (rows) => {
            const byJob = jobs.map((): Array<Row> => [])
            for (const row of rows) byJob[Number(row.i)]?.push(row)
            jobs.forEach((job, i) => {
              let result: Answer
              try {
                result = Effect.succeed(identityOf(byJob[i]!))
              } catch (cause) {
                result = Effect.fail(malformedRows(cause))
              }
              answer(job, result)
            })
          }
        }),
        // Closing: the Lookups of a batch in flight are interrupted, as their fibers will be.
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            for (const job of jobs) answer(job, Effect.interrupt)
          })
        )
      )
    }

    const runBatch = yield* FiberSet.makeRuntime<never, void, never>()
    const pending: Array<PendingIdentity> = []
    let readers = 0
    let timer: NodeJS.Immediate | undefined
    let closed = false

    // A batch starts once the event loop has read every socket that is ready (`setImmediate` runs after
    // that phase), so that it takes every Lookup those reads brought.
    const startBatches = () => {
      timer = undefined
      while (!closed && readers < IDENTITY_READERS && pending.length > 0) {
        const jobs: Array<PendingIdentity> = []
        let taken = 0
        while (jobs.length < IDENTITY_BATCH && taken < pending.length) {
          const job = pending[taken++]!
          if (job.resume !== undefined) jobs.push(job)
        }
        pending.splice(0, taken)
        if (jobs.length === 0) break
        readers++
        runBatch(Effect.ensuring(readBatch(jobs), Effect.sync(batchDone)))
      }
    }
    const schedule = () => {
      if (timer === undefined && !closed && readers < IDENTITY_READERS && pending.length > 0)
        timer = setImmediate(startBatches)
    }
    const batchDone = () => {
      readers--
      schedule()
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (timer !== undefined) clearImmediate(timer)
        for (const job of pending.splice(0)) answer(job, Effect.interrupt)
      })
    )

    return (handle, at) =>
      Effect.async<IdentityRows, RegistryError>((resume) => {
        if (closed) return resume(Effect.interrupt)
        const job: PendingIdentity = { handle, at, resume }
        pending.push(job)
        schedule()
        return Effect.sync(() => {
          job.resume = undefined
        })
      })
  })
