/**
 * The registry's schema, as versioned migrations kept in code and applied when the registry starts.
 *
 * A small versioned table of our own rather than `@effect/sql/Migrator`: two `irp serve` processes
 * may start at once against one PostgreSQL database (issue 3, section 3), and the Migrator's
 * "create the bookkeeping table if missing" step races outside its transaction. Here the whole run,
 * bookkeeping table included, is one transaction that first takes a PostgreSQL advisory lock; DDL
 * is transactional on both dialects, so a failed migration leaves nothing half-applied.
 *
 * Layout notes: times are `BIGINT` epoch milliseconds on both dialects (SQLite gives the column
 * INTEGER affinity); the token hash is hex `TEXT`; addresses are a JSON array in `TEXT`. Each index
 * exists so that one request is O(log n) however many identities the registry holds.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/** Advisory-lock class ids (two-key form) used by this module and by `SqlRegistry`. */
export const LOCK_CLASS_MIGRATIONS = 46040
export const LOCK_CLASS_HANDLE = 46041

/** What a migration's statements depend on: the blob type's name, and whether the database is SQLite. */
export interface Dialect {
  readonly blob: string
  readonly sqlite?: boolean
}

interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: (dialect: Dialect) => ReadonlyArray<string>
}

export const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "create_registry",
    statements: ({ blob }) => [
      `CREATE TABLE irp_tokens (
        token_hash TEXT PRIMARY KEY,
        handle TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      )`,
      `CREATE INDEX irp_tokens_expires_at ON irp_tokens (expires_at)`,
      `CREATE TABLE irp_certificates (
        serial TEXT PRIMARY KEY,
        handle TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        der ${blob} NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('good', 'revoked')),
        revoked_at BIGINT,
        reason TEXT,
        CHECK ((status = 'good' AND revoked_at IS NULL AND reason IS NULL)
          OR (status = 'revoked' AND revoked_at IS NOT NULL AND reason IS NOT NULL))
      )`,
      `CREATE INDEX irp_certificates_handle ON irp_certificates (handle, not_before)`,
      `CREATE INDEX irp_certificates_revoked ON irp_certificates (revoked_at) WHERE status = 'revoked'`,
      // One row per (handle, device). A deregistered or expired device keeps its row, and so its
      // sequence high-water mark, until `purgeExpired` removes it after the retention period.
      `CREATE TABLE irp_bindings (
        handle TEXT NOT NULL,
        device_id TEXT NOT NULL,
        addresses TEXT NOT NULL,
        observed TEXT,
        expires_at BIGINT NOT NULL,
        seq BIGINT NOT NULL CHECK (seq >= 0),
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (handle, device_id)
      )`,
      `CREATE INDEX irp_bindings_expires_at ON irp_bindings (expires_at)`
    ]
  },
  {
    id: 2,
    name: "current_certificate_index",
    // A Lookup's "newest good unexpired certificate of the handle" read from the index alone, in the
    // order it asks for (newest first), instead of one table row per candidate and a sort: the Lookup
    // statement ran ~15 % faster on SQLite, more on a large registry (docs/BENCHMARKS.md). Its first
    // two columns are the old index's, which it replaces.
    statements: () => [
      `CREATE INDEX irp_certificates_current ON irp_certificates (handle, not_before, serial, status, not_after)`,
      `DROP INDEX irp_certificates_handle`
    ]
  },
  {
    id: 3,
    name: "bindings_without_rowid",
    // SQLite: the bindings stored in their primary key's order (a `WITHOUT ROWID` table): a Lookup's
    // bindings and a registration's upsert are one search of one B-tree instead of a search of the key's
    // index and then of the table by rowid. On a registry of 1,000,000 identities the second search is one
    // more page, far from the last one read, per Lookup (issue 15, `scale_ratio`, docs/BENCHMARKS.md). The
    // rows (~100 bytes) are well inside what such a table is for. PostgreSQL has no row order to choose:
    // nothing to do there. Same columns, constraints and index; the rows are copied as they are.
    statements: ({ sqlite }) =>
      sqlite === true
        ? [
            `CREATE TABLE irp_bindings_clustered (
              handle TEXT NOT NULL,
              device_id TEXT NOT NULL,
              addresses TEXT NOT NULL,
              observed TEXT,
              expires_at BIGINT NOT NULL,
              seq BIGINT NOT NULL CHECK (seq >= 0),
              updated_at BIGINT NOT NULL,
              PRIMARY KEY (handle, device_id)
            ) WITHOUT ROWID`,
            `INSERT INTO irp_bindings_clustered (handle, device_id, addresses, observed, expires_at, seq, updated_at)
              SELECT handle, device_id, addresses, observed, expires_at, seq, updated_at FROM irp_bindings`,
            `DROP TABLE irp_bindings`,
            `ALTER TABLE irp_bindings_clustered RENAME TO irp_bindings`,
            `CREATE INDEX irp_bindings_expires_at ON irp_bindings (expires_at)`
          ]
        : []
  }
]

/** Brings the schema up to date; returns the ids it applied. Idempotent and safe to race. */
export const migrate: Effect.Effect<ReadonlyArray<number>, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const dialect = yield* sql.onDialectOrElse({
    sqlite: () => Effect.succeed<Dialect>({ blob: "BLOB", sqlite: true }),
    pg: () => Effect.succeed<Dialect>({ blob: "BYTEA" }),
    orElse: () => Effect.dieMessage("The IRP registry supports SQLite and PostgreSQL only.")
  })
  return yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql.onDialectOrElse({
        pg: () => sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS_MIGRATIONS}, 0)`,
        orElse: () => Effect.void
      })
      yield* sql`CREATE TABLE IF NOT EXISTS irp_schema_migrations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL
      )`
      const done = new Set(
        (yield* sql<{ readonly id: number | string }>`SELECT id FROM irp_schema_migrations`).map((r) => Number(r.id))
      )
      const applied: Array<number> = []
      for (const migration of migrations) {
        if (done.has(migration.id)) continue
        for (const statement of migration.statements(dialect)) {
          yield* sql.unsafe(statement)
        }
        yield* sql`INSERT INTO irp_schema_migrations (id, name) VALUES (${migration.id}, ${migration.name})`
        applied.push(migration.id)
      }
      return applied
    })
  )
})
