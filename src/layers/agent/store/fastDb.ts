/**
 * The message path's own connection (issue 15): the store's hot operations (`enqueue`, `receiveMany`,
 * `markSentMany`, `markDeliveredMany`, `outbox`, `retryNow`) run their statements as plain
 * better-sqlite3 calls inside one synchronous transaction, instead of through `@effect/sql`.
 *
 * Why: SQLite runs in-process and synchronously anyway, but through the effectful client every
 * statement costs a span, a compile, a prepared-statement cache lookup, a semaphore and several fiber
 * steps, and the transaction its own: measured on the bench machine, `enqueue` cost ~1.1 ms of CPU
 * against ~0.15 ms for the same durable insert made directly (docs/BENCHMARKS.md, "Issue 15: message
 * path, fourth session").
 *
 * Durability is unchanged (PROTOCOL.md §15, `database.ts`): the connection runs WAL with
 * `synchronous = FULL`, so a `durable` transaction is on disk when it returns (the caller acknowledges
 * the message to the user, or sends `<Ack>`, only after that); a `relaxed` one sets NORMAL for its
 * commit and FULL again right after (outside the transaction, where SQLite allows it; the pragma is
 * prepared afresh each time because SQLite applies a `synchronous` assignment when it is compiled).
 *
 * Locking: the caller holds the store's write lock (`database.ts`), which every write of the store
 * takes, so this connection never meets the effectful client's connection in the middle of a
 * transaction. Another process holding the file's write lock is waited for up to the busy timeout,
 * as on the effectful client (whose driver is the same synchronous better-sqlite3).
 *
 * Only for a database in a file: an in-memory database is private to one connection, and the store
 * then runs every operation through the effectful client.
 */
import Sqlite from "better-sqlite3"
import { Effect, type Scope } from "effect"
import { statementCache } from "../../sql/statementCache.js"

/** Prepared statements kept: the hot operations use a dozen fixed texts (`IN` lists go through `json_each`). */
const MAX_STATEMENTS = 48

export interface FastStatements {
  /** Rows a statement returns (`RETURNING` included); none for a write without it. */
  readonly all: (sql: string, params: ReadonlyArray<unknown>) => ReadonlyArray<Record<string, unknown>>
}

export interface FastDb {
  /** One write transaction (`BEGIN IMMEDIATE`), committed before it returns; rolled back if `body` throws. */
  readonly write: <A>(level: "durable" | "relaxed", body: (q: FastStatements) => A) => A
  /** One read statement, outside any transaction (sees every committed write). */
  readonly read: FastStatements["all"]
}

/** A database only one connection can see (no second connection can be opened on it). */
export const isPrivate = (filename: string): boolean =>
  filename === "" || filename === ":memory:" || filename.startsWith("file::memory:")

/** A read-write connection on `filename` (which must exist), closed with the scope. */
export const open = (filename: string, busyTimeoutMs: number): Effect.Effect<FastDb, unknown, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try(() => {
        const db = new Sqlite(filename, { fileMustExist: true })
        db.pragma(`busy_timeout = ${busyTimeoutMs}`)
        db.pragma("foreign_keys = ON")
        // better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL): FULL, as `SqliteLive` sets it.
        db.pragma("synchronous = FULL")
        return db
      }),
      (db) => Effect.sync(() => db.close())
    ),
    (db): FastDb => {
      const prepared = statementCache(db, MAX_STATEMENTS)
      const q: FastStatements = {
        all: (sql, params) => {
          const statement = prepared(sql)
          if (statement.reader) return statement.all(...params) as ReadonlyArray<Record<string, unknown>>
          statement.run(...params)
          return []
        }
      }
      const inTransaction = db.transaction((body: (q: FastStatements) => unknown) => body(q))
      /** Set while a relaxed write could not restore FULL: a durable write restores it first, or fails. */
      let relaxedLeft = false
      return {
        write: <A>(level: "durable" | "relaxed", body: (q: FastStatements) => A): A => {
          if (level === "durable") {
            if (relaxedLeft) {
              db.pragma("synchronous = FULL")
              relaxedLeft = false
            }
            return inTransaction.immediate(body) as A
          }
          relaxedLeft = true
          db.pragma("synchronous = NORMAL")
          try {
            return inTransaction.immediate(body) as A
          } finally {
            db.pragma("synchronous = FULL")
            relaxedLeft = false
          }
        },
        read: q.all
      }
    }
  )
