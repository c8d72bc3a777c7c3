/**
 * Chooses the storage from a `--db` value (issue 3, section 4): `sqlite:PATH` or a
 * `postgres://` / `postgresql://` URL. The result provides `SqlClient` (and `PgClient` or
 * `SqliteClient`, which the registry's change feed looks for at run time, and the cheaper read ports
 * the registry looks for the same way: `SyncReads`/`SyncWrites` on a SQLite file, `PgReads` on PostgreSQL).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { Layer } from "effect"
import * as PgLive from "./PgLive.js"
import * as SqliteLive from "./SqliteLive.js"

export type DatabaseSpec =
  | { readonly _tag: "Sqlite"; readonly path: string }
  | { readonly _tag: "Postgres"; readonly url: string }

/** `undefined` when the value names neither storage. */
export const parseDatabaseSpec = (spec: string): DatabaseSpec | undefined => {
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length)
    return path.length > 0 ? { _tag: "Sqlite", path } : undefined
  }
  if (/^postgres(?:ql)?:\/\//.test(spec)) return { _tag: "Postgres", url: spec }
  return undefined
}

export const layer = (spec: DatabaseSpec): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  spec._tag === "Sqlite"
    ? Layer.mapError(SqliteLive.layer(spec.path), (cause) => new SqlError({ message: "Bad SQLite settings", cause }))
    : PgLive.layer(spec.url)

/** `layer(parseDatabaseSpec(text))`, failing with a sentence when the text is not a database. */
export const layerFromString = (text: string): Layer.Layer<SqlClient.SqlClient, SqlError> => {
  const spec = parseDatabaseSpec(text)
  return spec === undefined
    ? Layer.fail(
        new SqlError({ message: `Unknown database ${JSON.stringify(text)}: use sqlite:PATH or postgres://HOST/DB.` })
      )
    : layer(spec)
}
