/**
 * The shared storage (issue 3, section 3): PostgreSQL through `@effect/sql-pg`, which several IRP
 * server processes can use at once. Exposed as `PgClient` (whose `listen` carries the registry's
 * change feed between processes) and as `SqlClient`.
 */

import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Layer, Redacted } from "effect"

export interface PgLiveOptions {
  /** Pool size (default 10). A `LISTEN` connection comes on top of it. */
  readonly maxConnections?: number | undefined
  /** Use this schema (`search_path`) instead of the role's default, e.g. to isolate test runs. */
  readonly schema?: string | undefined
  readonly applicationName?: string | undefined
  /** How long to wait for the first connection (default 5 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/** A PostgreSQL identifier we are willing to put into a connection option unquoted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * `url` with `options=-c search_path=<schema>`, sent at connection start-up so that every pooled
 * connection (and the LISTEN one) uses it; `undefined` when the schema name or the URL is unusable.
 */
export const withSearchPath = (url: string, schema: string): string | undefined => {
  if (!SCHEMA_NAME.test(schema) || !URL.canParse(url)) return undefined
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
}

/** A pooled client for `url` (`postgres://user@host:port/database`); the password, if any, stays redacted. */
export const layer = (
  url: string | Redacted.Redacted<string>,
  options: PgLiveOptions = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> => {
  const plain = typeof url === "string" ? url : Redacted.value(url)
  const effective = options.schema === undefined ? plain : withSearchPath(plain, options.schema)
  if (effective === undefined) {
    return Layer.fail(
      new SqlError({
        message: `Cannot use PostgreSQL schema ${JSON.stringify(options.schema)}: use lower-case letters, digits and _.`
      })
    )
  }
  return PgClient.layer({
    url: Redacted.make(effective),
    maxConnections: options.maxConnections ?? 10,
    connectTimeout: options.connectTimeout ?? Duration.seconds(5),
    applicationName: options.applicationName ?? "sixchat-irp"
  })
}
