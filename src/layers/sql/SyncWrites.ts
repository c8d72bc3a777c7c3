/**
 * Synchronous write transactions on the embedded storage (issue 15): the registry's group-committed
 * registrations run as plain function calls inside one transaction, like `SyncReads` for its hot read.
 *
 * Why it exists: through `@effect/sql` each statement of a registration cost a span, a compile, a
 * semaphore and several fiber steps, and the transaction its own: about half of a registration's server
 * CPU was the Effect runtime (docs/BENCHMARKS.md, issue 15). SQLite runs in-process and synchronously
 * anyway, so a batch of statements needs one effect around it, not one each.
 *
 * What it is: a third connection on the same file (the effectful client's and `SyncReads`' beside it),
 * read-write, with the client's settings (`synchronous = FULL`, foreign keys) so a transaction here is as
 * durable as one there. A transaction takes the write lock at once (`BEGIN IMMEDIATE`) and never waits
 * for it (`busy_timeout = 0`): whoever holds it — another process, or this process's effectful client in
 * the middle of a transaction that spans turns of the event loop — could not move while a synchronous
 * wait blocked the loop. A locked file is reported as `Busy` with nothing written, and the caller tries
 * again after a pause that leaves the loop free, for up to the client's busy timeout.
 */
import Sqlite from "better-sqlite3"
import { Effect, Either, Layer, type Scope } from "effect"
import {
  type SyncStatements,
  type SyncWriteFailure,
  SyncWrites,
  type SyncWritesService
} from "../../services/SyncWrites.js"
import { statementCache } from "./statementCache.js"

export { SyncWrites, type SyncWritesService } from "../../services/SyncWrites.js"

/** Prepared statements kept: the registry runs a handful of distinct statements here. */
const MAX_STATEMENTS = 32

/** SQLite's result codes for a lock held elsewhere (better-sqlite3 reports extended codes by name). */
const isBusy = (cause: unknown): boolean => {
  const code = (cause as { readonly code?: unknown } | null)?.code
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
}

/** A read-write connection on `filename` (which must exist), closed with the scope. */
export const make = (filename: string, busyTimeoutMs: number): Effect.Effect<SyncWritesService, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const db = new Sqlite(filename, { fileMustExist: true })
        db.pragma("busy_timeout = 0")
        db.pragma("foreign_keys = ON")
        // better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL): FULL, as `SqliteLive` sets it.
        db.pragma("synchronous = FULL")
        return db
      }),
      (db) => Effect.sync(() => db.close())
    ),
    (db): SyncWritesService => {
      const prepared = statementCache(db, MAX_STATEMENTS)
      const statements: SyncStatements = {
        all: (sql, params) => {
          const statement = prepared(sql)
          if (statement.reader) return statement.all(...params) as ReadonlyArray<Record<string, unknown>>
          statement.run(...params)
          return []
        }
      }
      const inTransaction = db.transaction((body: (statements: SyncStatements) => unknown) => body(statements))
      return {
        transaction: <A>(body: (statements: SyncStatements) => A): Either.Either<A, SyncWriteFailure> => {
          try {
            return Either.right(inTransaction.immediate(body) as A)
          } catch (cause) {
            return Either.left(isBusy(cause) ? { _tag: "Busy" } : { _tag: "Failed", cause })
          }
        },
        dataVersion: () => {
          try {
            return Number(db.pragma("data_version", { simple: true }))
          } catch {
            return undefined
          }
        },
        busyTimeoutMs
      }
    }
  )

export const layer = (filename: string, busyTimeoutMs: number): Layer.Layer<SyncWrites> =>
  Layer.scoped(SyncWrites, make(filename, busyTimeoutMs))
