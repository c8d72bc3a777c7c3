/**
 * The Lookup read on PostgreSQL, several at a time (issue 15): the Lookups waiting when a read starts
 * share one statement, up to `IDENTITY_BATCH`, as registrations share a transaction
 * (`registrations.ts`). Each statement is a round trip to the database and a pass through `@effect/sql`
 * and `pg`, which cost the server more than the read itself; under load, a batch of them costs about what
 * one did.
 *
 * The statement is `certificates.ts`'s identity statement for a list of (handle, time) pairs, passed as one
 * JSON parameter (one statement text whatever the batch's size: one prepared statement, see `PgLive`),
 * with each pair's number on its rows. Every Lookup is answered from a statement that started after the
 * Lookup was read, so it reflects every change committed before (PROTOCOL.md §17.6.2).
 */
import { Deferred, Effect, Queue, type Scope } from "effect"
import type { Handle } from "../../../domain/brands.js"
import { RegistryError } from "../../../domain/irp/registry.js"
import { afterReadyInput } from "./registrations.js"
import { type IdentityRows, identityOf } from "./rows.js"
import type { Store } from "./store.js"

/** Lookups read by one statement, at most. */
const IDENTITY_BATCH = 64
/**
 * Statements reading at once. Few, so that batches are large: under load a batch costs the server about
 * what one read did, and two readers measured less CPU per Lookup than four (docs/BENCHMARKS.md).
 */
const IDENTITY_READERS = 2

interface PendingIdentity {
  readonly handle: Handle
  readonly at: number
  readonly done: Deferred.Deferred<IdentityRows, RegistryError>
}

type Row = Readonly<Record<string, unknown>>

/** Starts the readers (scoped); returns `currentIdentity` through them. */
export const startIdentityReads = ({
  sql,
  read
}: Store): Effect.Effect<
  (handle: Handle, at: number) => Effect.Effect<IdentityRows, RegistryError>,
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const readBatch = (jobs: ReadonlyArray<PendingIdentity>) => {
      const pairs = JSON.stringify(jobs.map((job, i) => ({ i, handle: job.handle, at: job.at })))
      const statement = sql<Row>`SELECT h.i, c.serial, c.handle, c.fingerprint, c.der, c.not_before, c.not_after,
          c.status, c.revoked_at, c.reason, b.device_id, b.addresses, b.observed, b.expires_at,
          CAST(b.seq AS TEXT) AS seq, b.updated_at
        FROM json_to_recordset(CAST(${pairs} AS JSON)) AS h(i INT4, handle TEXT, at BIGINT)
        JOIN irp_certificates c ON c.serial = (SELECT serial FROM irp_certificates
          WHERE handle = h.handle AND status = 'good' AND not_after > h.at
          ORDER BY not_before DESC, serial DESC LIMIT 1)
        LEFT JOIN irp_bindings b ON b.handle = c.handle AND b.expires_at > h.at
        ORDER BY h.i, b.device_id`
      const failAll = (error: RegistryError) =>
        Effect.forEach(jobs, (job) => Deferred.fail(job.done, error), { discard: true })
      return read(statement).pipe(
        // A defect (a bug, not a database failure) answers this batch as a storage failure: the reader
        // goes on, and no Lookup waits for an answer that will not come.
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            new RegistryError({ reason: "Storage", message: "The registry's Lookup read failed.", cause: defect })
          )
        ),
        Effect.matchEffect({
          onFailure: failAll,
          onSuccess: (rows) => {
            const byJob = jobs.map((): Array<Row> => [])
            for (const row of rows) byJob[Number(row.i)]?.push(row)
            return Effect.forEach(
              jobs,
              (job, i) => {
                try {
                  return Deferred.succeed(job.done, identityOf(byJob[i]!))
                } catch (cause) {
                  return Deferred.fail(
                    job.done,
                    new RegistryError({
                      reason: "Storage",
                      message:
                        "The registry database holds a malformed certificate or binding row; check what else writes to its tables.",
                      cause
                    })
                  )
                }
              },
              { discard: true }
            )
          }
        })
      )
    }

    const pending = yield* Effect.acquireRelease(Queue.unbounded<PendingIdentity>(), Queue.shutdown)
    for (let i = 0; i < IDENTITY_READERS; i++)
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(pending), (first) =>
            Effect.flatMap(Effect.zipRight(afterReadyInput, Queue.takeUpTo(pending, IDENTITY_BATCH - 1)), (more) =>
              readBatch([first, ...more])
            )
          )
        )
      )
    return (handle, at) =>
      Effect.flatMap(Deferred.make<IdentityRows, RegistryError>(), (done) =>
        Effect.zipRight(Queue.offer(pending, { handle, at, done }), Deferred.await(done))
      )
  })
