/**
 * What every part of the SQL registry runs with (see `SqlRegistry.ts`): the client, the lease policy, the
 * transaction wrapper that announces changes, and the CAST helpers that keep read plans stable.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { type LeasePolicy, type RegistryChange, RegistryError } from "../../../domain/irp/registry.js"
import type { ChangeFeed } from "./changes.js"

export const storageError = (cause: SqlError) => {
  const driver = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return new RegistryError({
    reason: "Storage",
    message: `The registry database failed (${cause.message.trim()}${driver}); check that it is reachable and writable.`,
    cause
  })
}

export const fail = (reason: RegistryError["reason"], message: string) =>
  Effect.fail(new RegistryError({ reason, message }))

/** Number of rows a statement changed (`.raw` is the driver's own result object). */
export const affected = (raw: unknown): number =>
  typeof raw === "object" && raw !== null
    ? Number(("rowCount" in raw ? raw.rowCount : "changes" in raw ? raw.changes : 0) ?? 0)
    : 0

export const makeStore = (sql: SqlClient.SqlClient, feed: ChangeFeed, policy: LeasePolicy) => {
  /** Runs `body` in a transaction, announces its changes, maps driver failures to `Storage`. */
  const write = <A>(
    body: Effect.Effect<readonly [A, ReadonlyArray<RegistryChange>], RegistryError | SqlError>
  ): Effect.Effect<A, RegistryError> =>
    sql.withTransaction(Effect.tap(body, ([, changes]) => feed.inTransaction(changes))).pipe(
      Effect.tap(([, changes]) => feed.afterCommit(changes)),
      Effect.map(([result]) => result),
      Effect.catchTag("SqlError", (e) => Effect.fail(storageError(e)))
    )
  const read = <A>(query: Effect.Effect<A, RegistryError | SqlError>): Effect.Effect<A, RegistryError> =>
    Effect.catchTag(query, "SqlError", (e) => Effect.fail(storageError(e)))

  /**
   * Bound values in the read statements' search conditions go through a CAST. SQLite builds with
   * STAT4 (better-sqlite3's do) re-plan a statement whenever a bound value the planner estimated from
   * the `sqlite_stat4` samples changes — once `ANALYZE` (or `PRAGMA optimize`) has run, that is every
   * Lookup, and the re-preparation tripled its cost (55-65 µs against 21 µs, measured). A CAST makes
   * the value opaque to that estimate; the plan (the same index searches) does not depend on it.
   * BIGINT: timestamps in milliseconds exceed PostgreSQL's INTEGER.
   */
  const text = (value: string) => sql`CAST(${value} AS TEXT)`
  const millis = (value: number) => sql`CAST(${value} AS BIGINT)`

  return { sql, policy, feed, write, read, text, millis }
}

export type Store = ReturnType<typeof makeStore>
