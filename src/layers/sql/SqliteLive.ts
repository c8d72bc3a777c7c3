/**
 * The embedded storage (issue 3, section 3): one SQLite file through `@effect/sql-sqlite-node`.
 *
 * Settings, applied once on the client's single connection:
 * * WAL journal (the client's default): readers never block the writer;
 * * `busy_timeout`: wait for a lock (a backup, an operator's `sqlite3` shell) instead of failing at once;
 * * `foreign_keys`: enforce declared references, which SQLite leaves off by default;
 * * `synchronous` stays FULL: a consumed token or a revocation must survive a power cut.
 *
 * One process owns the file: the client serialises its statements over one connection, and changes
 * made by another process would not reach this one's change feed (PostgreSQL is how a deployment
 * grows past one process).
 */

import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Effect, Layer } from "effect"
import * as SyncReads from "./SyncReads.js"
import * as SyncWrites from "./SyncWrites.js"

/** How long a statement waits for a lock held elsewhere before failing, in milliseconds. */
export const BUSY_TIMEOUT_MS = 5000

const pragmas = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  yield* sql.unsafe("PRAGMA foreign_keys = ON")
  // better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL): ask for FULL explicitly.
  yield* sql.unsafe("PRAGMA synchronous = FULL")
})

/** A database only this connection can see: no second connection (`SyncReads`, `SyncWrites`) can be opened on it. */
const isPrivate = (filename: string) =>
  filename === "" || filename === ":memory:" || filename.startsWith("file::memory:")

/**
 * A client on the SQLite file at `filename` (created if missing), exposed as `SqliteClient` and
 * `SqlClient`, with `SyncReads` on a second, read-only connection and `SyncWrites` on a third for files.
 */
export const layer = (filename: string) => {
  const client = Layer.effectDiscard(pragmas).pipe(Layer.provideMerge(SqliteClient.layer({ filename })))
  if (isPrivate(filename)) return client
  return Layer.mergeAll(SyncReads.layer(filename, BUSY_TIMEOUT_MS), SyncWrites.layer(filename, BUSY_TIMEOUT_MS)).pipe(
    Layer.provideMerge(client)
  )
}
