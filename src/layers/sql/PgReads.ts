/**
 * Reads on PostgreSQL straight on the pool that `@effect/sql-pg` uses (issue 15): the registry's Lookup
 * read as one `Effect.async` around `pool.connect` and `client.query`, which is what `@effect/sql-pg`
 * does for a statement, without the rest of its per-statement work (statement building and compiling,
 * span, connection scope and the fiber steps between them: ~35–40 µs of the server's CPU per statement
 * over `pg`'s own, measured in docs/BENCHMARKS.md). The text is the registry's own `@effect/sql`
 * statement, compiled once (`registry/compiled.ts`), and the pool's client class runs it as a named
 * prepared statement (`PgLive.preparingClient`), as it runs the effectful path's.
 *
 * Failures are the `SqlError`s `@effect/sql-pg` reports for the same steps ("Failed to acquire
 * connection", "Connection error", "Failed to execute statement"), so that callers map them as before.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { PgReadsService } from "../../services/PgReads.js"

export { PgReads, type PgReadsService } from "../../services/PgReads.js"

type Rows = ReadonlyArray<Record<string, unknown>>

/** The part of a pooled `pg` connection used here (`pg` ships no type declarations). */
export interface PgPoolClient {
  query(text: string, values: ReadonlyArray<unknown>, callback: (err: Error | null, result: unknown) => void): unknown
  once(event: "error", listener: (err: Error) => void): unknown
  off(event: "error", listener: (err: Error) => void): unknown
  release(err?: Error | boolean): void
}

export interface PgReadPool {
  connect(callback: (err: Error | null | undefined, client: PgPoolClient | undefined) => void): void
}

const rowsOf = (result: unknown): Rows =>
  typeof result === "object" && result !== null && "rows" in result && Array.isArray(result.rows)
    ? (result.rows as Rows)
    : []

/**
 * One statement on a pooled connection, released when it answers (or with the error, so that the pool
 * drops a broken connection). An interrupted read lets the statement finish and releases it then.
 */
const runOn = (pool: PgReadPool, text: string, params: ReadonlyArray<unknown>): Effect.Effect<Rows, SqlError> =>
  Effect.async<Rows, SqlError>((resume) => {
    let interrupted = false
    const answer = (effect: Effect.Effect<Rows, SqlError>) => {
      if (!interrupted) resume(effect)
    }
    pool.connect((cause, client) => {
      if (cause) return answer(Effect.fail(new SqlError({ cause, message: "Failed to acquire connection" })))
      if (client === undefined)
        return answer(
          Effect.fail(new SqlError({ message: "Failed to acquire connection", cause: new Error("No client returned") }))
        )
      if (interrupted) return client.release()
      let released = false
      const release = (error?: Error) => {
        if (released) return false
        released = true
        client.off("error", onError)
        client.release(error)
        return true
      }
      const onError = (error: Error) => {
        if (release(error)) answer(Effect.fail(new SqlError({ cause: error, message: "Connection error" })))
      }
      client.once("error", onError)
      const answered = (err: Error | null, result: unknown) => {
        if (!release()) return
        answer(
          err
            ? Effect.fail(new SqlError({ cause: err, message: "Failed to execute statement" }))
            : Effect.succeed(rowsOf(result))
        )
      }
      try {
        client.query(text, params, answered)
      } catch (cause) {
        // A value `pg` cannot serialise throws here, in `pg-pool`'s callback: answer it, never throw.
        answered(cause instanceof Error ? cause : new Error(String(cause)), undefined)
      }
    })
    return Effect.sync(() => {
      interrupted = true
    })
  })

export const make = (pool: PgReadPool): PgReadsService => ({ all: (text, params) => runOn(pool, text, params) })
