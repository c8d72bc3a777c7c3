/**
 * Synchronous reads on the embedded storage: the registry's hot read (`currentIdentity`, every Lookup)
 * answered as a plain function call, with none of the per-call machinery of an effectful client.
 *
 * Why it exists: through `@effect/sql` a 20 µs SQLite statement cost ~110 µs of the server's CPU (compile,
 * span, semaphore, prepared-statement cache, fiber steps, measured in docs/BENCHMARKS.md), the largest
 * single cost of a Lookup. SQLite runs in-process and synchronously anyway, so a read needs no effect.
 *
 * What it is: a second, read-only connection on the same SQLite file (WAL: it never blocks the writer
 * and sees every committed transaction at the start of each statement, so a read after a commit in this
 * process sees it). The statements it runs are the registry's own, compiled from the same `@effect/sql`
 * statement the effectful path runs (one text for both, see `SqlRegistry`); PostgreSQL has no such
 * service and its reads stay effectful. Provided by `SqliteLive.layer` for files (not `:memory:`, which
 * a second connection could not see).
 */
import Sqlite from "better-sqlite3"
import { Effect, Layer, type Scope } from "effect"
import { SyncReads, type SyncReadsService } from "../../services/SyncReads.js"
import { statementCache } from "./statementCache.js"

export { SyncReads, type SyncReadsService } from "../../services/SyncReads.js"

/**
 * The file is read through a memory map of up to this size (SQLite caps it at its own limit, 2 GiB on
 * Linux): a page read is then a memory access instead of a `pread` and a copy into the page cache. On a
 * registry of 1,000,000 identities (880 MB) that took the Lookup statement from ~40 to ~29 µs, against
 * ~22 µs at 1,000 (measured; docs/BENCHMARKS.md). It maps address space, not memory: the OS keeps the
 * pages it has room for. The map is only read (this connection is read-only); writes stay on the
 * writer's connection, which uses ordinary I/O.
 */
const MMAP_BYTES = 2 ** 31

/** Prepared statements kept: the registry runs a handful of distinct read statements. */
const MAX_STATEMENTS = 32

/** A read-only connection on `filename` (which must exist), closed with the scope. */
export const make = (filename: string, busyTimeoutMs: number): Effect.Effect<SyncReadsService, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const db = new Sqlite(filename, { readonly: true, fileMustExist: true })
        db.pragma(`busy_timeout = ${busyTimeoutMs}`)
        db.pragma(`mmap_size = ${MMAP_BYTES}`)
        return db
      }),
      (db) => Effect.sync(() => db.close())
    ),
    (db): SyncReadsService => {
      const readOnly = (statement: Sqlite.Statement) => {
        if (!statement.reader) throw new TypeError("SyncReads runs read-only statements only")
      }
      const prepared = statementCache(db, MAX_STATEMENTS, readOnly)
      // A statement in raw mode returns arrays: its own prepared copy, so `all` keeps its objects.
      const raw = statementCache(db, MAX_STATEMENTS, (statement) => {
        readOnly(statement)
        statement.raw(true)
      })
      return {
        all: (sql, params) => prepared(sql).all(...params) as ReadonlyArray<Record<string, unknown>>,
        rows: (sql, params) => raw(sql).all(...params) as ReadonlyArray<ReadonlyArray<unknown>>,
        columns: (sql) =>
          prepared(sql)
            .columns()
            .map((column) => column.name)
      }
    }
  )

export const layer = (filename: string, busyTimeoutMs: number): Layer.Layer<SyncReads> =>
  Layer.scoped(SyncReads, make(filename, busyTimeoutMs))
