/**
 * The real PostgreSQL the storage suites run against (issue 3, section 3): `127.0.0.1:5432`, database
 * `test`, trust auth (override with `SIXCHAT_TEST_PG_URL`).
 *
 * `postgres.reachable` is probed once, with a short timeout, when this module loads. When the server
 * is not reachable the PostgreSQL suites are skipped with a console message, unless
 * `SIXCHAT_REQUIRE_POSTGRES=1` (CI sets it): then `requirePostgresTest` registers a failing test, so a
 * run in which those suites did not run cannot pass.
 *
 * Each suite gets its own schema (`sixchat_test_<random>`, selected through `search_path` on every
 * connection) and drops it afterwards, so parallel runs never see each other's rows or notifications.
 */
import { randomBytes } from "node:crypto"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Effect, Layer } from "effect"
import { it } from "vitest"
import * as PgLive from "../../src/layers/sql/PgLive.js"

export const PG_URL = process.env.SIXCHAT_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
export const requirePostgres = process.env.SIXCHAT_REQUIRE_POSTGRES === "1"

/** Connection string without any password, for messages. */
const shownUrl = (() => {
  try {
    const u = new URL(PG_URL)
    u.password = ""
    return u.toString()
  } catch {
    return "(unparsable SIXCHAT_TEST_PG_URL)"
  }
})()

const probe = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT 1`
}).pipe(
  Effect.provide(PgLive.layer(PG_URL, { maxConnections: 1, connectTimeout: "2 seconds" })),
  Effect.timeout("3 seconds"),
  Effect.match({
    onFailure: (e) => ({ reachable: false, reason: String(e.message) }),
    onSuccess: () => ({ reachable: true, reason: "" })
  })
)

export const postgres: { readonly reachable: boolean; readonly reason: string } = await Effect.runPromise(probe)

export const unreachableMessage =
  `PostgreSQL not reachable at ${shownUrl} (${postgres.reason}) — skipping; ` +
  "set SIXCHAT_REQUIRE_POSTGRES=1 to make this a failure"

if (!postgres.reachable && !requirePostgres) console.warn(unreachableMessage)

/** Registers a test that fails when PostgreSQL is required but unreachable (call at the top of a PG test file). */
export const requirePostgresTest = (): void => {
  // Registered only when it must fail, so a run with PostgreSQL shows no skipped test.
  if (!postgres.reachable && requirePostgres)
    it("PostgreSQL is reachable (SIXCHAT_REQUIRE_POSTGRES=1)", () => {
      throw new Error(`PostgreSQL not reachable at ${shownUrl} (${postgres.reason}), and SIXCHAT_REQUIRE_POSTGRES=1.`)
    })
}

/** A fresh schema in the test database, dropped (with everything in it) when the layer is released. */
export class PgTestSchema extends Context.Tag("test/PgTestSchema")<
  PgTestSchema,
  { readonly url: string; readonly schema: string }
>() {}

export const freshSchema: Layer.Layer<PgTestSchema, SqlError> = Layer.scoped(
  PgTestSchema,
  Effect.gen(function* () {
    const context = yield* Layer.build(
      PgLive.layer(PG_URL, { maxConnections: 1, applicationName: "sixchat-test-admin" })
    )
    const sql = Context.get(context, SqlClient.SqlClient)
    const schema = `sixchat_test_${randomBytes(6).toString("hex")}`
    yield* Effect.acquireRelease(sql.unsafe(`CREATE SCHEMA ${schema}`), () =>
      Effect.orDie(sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
    )
    return { url: PG_URL, schema }
  })
)

/** A client on the fresh schema: each use of this layer is one more "process" (its own pool and LISTEN connection). */
export const schemaClient = (
  maxConnections = 8
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError, PgTestSchema> =>
  Layer.unwrapEffect(
    Effect.map(PgTestSchema, ({ url, schema }) =>
      PgLive.layer(url, { schema, maxConnections, applicationName: "sixchat-test" })
    )
  )
