/**
 * PgReads: the registry's hot read on PostgreSQL as one call on the pool's `pg` client (issue 15).
 * Implemented by `layers/sql/PgReads.ts`, provided by `PgLive.layer` beside `SqlClient`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Context, type Effect } from "effect"

export interface PgReadsService {
  /**
   * The rows of a read-only statement (`$1`… placeholders, `params` in order) as `pg` returns them
   * (objects keyed by column name, no transforms), run as a named prepared statement on a pooled
   * connection. Fails as `@effect/sql-pg` does for the same statement (same `SqlError` messages).
   */
  readonly all: (
    text: string,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
}

export class PgReads extends Context.Tag("sixchat/PgReads")<PgReads, PgReadsService>() {}
