/**
 * `PgLive` on the real PostgreSQL: statements with bound values run as named prepared statements (one
 * name per text, prepared once per connection), statements without values keep the simple protocol,
 * and a statement whose preparation fails leaves the connection usable.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { describe } from "vitest"
import { freshSchema, postgres, requirePostgresTest, schemaClient } from "../../support/postgres.js"

requirePostgresTest()

/** One pooled connection, so that every statement below runs in the same session. */
const oneConnection = Layer.provideMerge(schemaClient(1), freshSchema)

const preparedTexts = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ readonly statement: string }>`SELECT statement FROM pg_prepared_statements WHERE name LIKE ${"sixchat_%"}`,
    (rows) => rows.map((r) => r.statement)
  )

describe.skipIf(!postgres.reachable)("PgLive on PostgreSQL", () => {
  it.scoped("a statement with values is prepared once by name and reused", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (let i = 0; i < 3; i++)
        expect(yield* sql<{ readonly n: number }>`SELECT ${i}::int + 1 AS n`).toEqual([{ n: i + 1 }])
      const texts = yield* preparedTexts(sql)
      expect(texts.filter((t) => t.includes("+ 1 AS n"))).toHaveLength(1)
      // The statement that listed them is prepared too; nothing without values is.
      yield* sql.unsafe("SELECT 1")
      expect((yield* preparedTexts(sql)).every((t) => t.includes("$"))).toBe(true)
    }).pipe(Effect.provide(oneConnection))
  )

  it.scoped("a statement that fails to prepare fails cleanly, and the connection goes on", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const bad = yield* Effect.flip(sql`SELECT * FROM no_such_table WHERE x = ${1}`)
      expect(bad._tag).toBe("SqlError")
      // The same text fails again the same way (its name was not kept as prepared).
      expect((yield* Effect.flip(sql`SELECT * FROM no_such_table WHERE x = ${1}`))._tag).toBe("SqlError")
      expect(yield* sql<{ readonly n: number }>`SELECT ${41}::int + 1 AS n`).toEqual([{ n: 42 }])
      // Values of another type under the same text: the prepared statement's parameter types apply.
      expect(yield* sql<{ readonly n: number }>`SELECT ${"7"}::int + 1 AS n`).toEqual([{ n: 8 }])
    }).pipe(Effect.provide(oneConnection))
  )

  it.scoped("in a transaction too", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("CREATE TABLE t (x int)")
      yield* sql.withTransaction(
        Effect.forEach([1, 2, 3], (x) => sql`INSERT INTO t (x) VALUES (${x})`, { discard: true })
      )
      expect(yield* sql<{ readonly s: string }>`SELECT CAST(SUM(x) AS TEXT) AS s FROM t WHERE x > ${0}`).toEqual([
        { s: "6" }
      ])
      expect((yield* preparedTexts(sql)).filter((t) => t.startsWith("INSERT INTO t"))).toHaveLength(1)
    }).pipe(Effect.provide(oneConnection))
  )
})
