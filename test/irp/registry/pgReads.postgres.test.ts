/**
 * `PgReads` on the real PostgreSQL (issue 15): the pool's `pg` client answers a statement with the rows
 * `SqlClient` gives for it, as a named prepared statement; failures are `SqlError`s with
 * `@effect/sql-pg`'s messages; an interrupted read gives its connection back. And the registry's Lookup
 * read through it: answers as the effectful statement does, a storage failure is a typed `Storage`
 * error for every waiting Lookup, an interrupted Lookup leaves the others alone, and closing the
 * registry interrupts the Lookups still waiting rather than leaving them hanging; and the batched
 * statement's generic plan searches the indexes per Lookup instead of reading whole tables.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { describe } from "vitest"
import { Fingerprint, Handle } from "../../../src/domain/brands.js"
import { SerialHex } from "../../../src/domain/irp/certificates.js"
import { identityBatch } from "../../../src/layers/irp/registry/pgIdentities.js"
import { waveStatement } from "../../../src/layers/irp/registry/pgRegister.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as PgLive from "../../../src/layers/sql/PgLive.js"
import { IrpRegistry } from "../../../src/services/IrpRegistry.js"
import { PgReads } from "../../../src/services/PgReads.js"
import { freshSchema, PgTestSchema, postgres, requirePostgresTest } from "../../support/postgres.js"

requirePostgresTest()

/** `PgLive` on the test schema with `n` pooled connections, `PgReads` included. */
const pgClient = (maxConnections: number) =>
  Layer.unwrapEffect(
    Effect.map(PgTestSchema, ({ url, schema }) =>
      PgLive.layer(url, { schema, maxConnections, applicationName: "sixchat-test" })
    )
  )
const pgOn = (maxConnections: number) => Layer.provideMerge(pgClient(maxConnections), freshSchema)

describe.skipIf(!postgres.reachable)("PgReads on PostgreSQL", () => {
  it.scoped("answers the rows SqlClient gives, as a named prepared statement", () =>
    Effect.gen(function* () {
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      const reads = yield* PgReads
      yield* sql.unsafe("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, b BYTEA, j TEXT)")
      yield* sql`INSERT INTO t VALUES (${"a"}, ${1}, ${new Uint8Array([1, 2])}, ${null}), (${"b"}, ${2}, ${null}, ${"x"})`
      const statement = (min: number) => sql`SELECT k, n, b, j FROM t WHERE n >= CAST(${min} AS BIGINT) ORDER BY k`
      const [text, params] = statement(0).compile()
      const direct = yield* reads.all(text, params)
      expect(direct).toEqual(yield* statement(0))
      expect(direct.map((r) => r.k)).toEqual(["a", "b"])
      expect(Buffer.from(direct[0]!.b as Uint8Array)).toEqual(Buffer.from([1, 2]))
      expect(yield* reads.all(text, [2])).toEqual([{ k: "b", n: "2", b: null, j: "x" }])
      const prepared = yield* sql<{ readonly statement: string }>`SELECT statement FROM pg_prepared_statements
        WHERE name LIKE ${"sixchat_%"}`
      expect(prepared.filter((p) => p.statement === text)).toHaveLength(1)
    }).pipe(Effect.provide(pgOn(1)))
  )

  it.scoped("a failing statement is an SqlError with @effect/sql-pg's message, and the connection goes on", () =>
    Effect.gen(function* () {
      const reads = yield* PgReads
      const error = yield* Effect.flip(reads.all("SELECT * FROM no_such_table WHERE x = $1", [1]))
      expect(error._tag).toBe("SqlError")
      expect(error.message).toBe("Failed to execute statement")
      expect(String(error.cause)).toContain("no_such_table")
      expect(yield* reads.all("SELECT CAST($1 AS INT4) + 1 AS n", [41])).toEqual([{ n: 42 }])
      // A value `pg` cannot serialise (a cyclic object) is a failure too, not a crash.
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const unserialisable = yield* Effect.flip(reads.all("SELECT CAST($1 AS TEXT) AS t", [cyclic]))
      expect(unserialisable.message).toBe("Failed to execute statement")
      expect(yield* reads.all("SELECT CAST($1 AS INT4) + 1 AS n", [1])).toEqual([{ n: 2 }])
    }).pipe(Effect.provide(pgOn(1)))
  )

  it.scopedLive("an interrupted read gives its connection back to the pool", () =>
    Effect.gen(function* () {
      const reads = yield* PgReads
      // One connection: a read that kept it would leave the next one waiting for ever.
      const slow = yield* Effect.fork(reads.all("SELECT pg_sleep(0.3), CAST($1 AS INT4) AS n", [1]))
      yield* Effect.sleep("50 millis")
      expect(Exit.isInterrupted(yield* Fiber.interrupt(slow))).toBe(true)
      const after = yield* reads.all("SELECT CAST($1 AS INT4) AS n", [2]).pipe(Effect.timeout("5 seconds"))
      expect(after).toEqual([{ n: 2 }])
    }).pipe(Effect.provide(pgOn(1)))
  )
})

const DAY = 86_400_000

/** A registry "process" over `PgLive` (so with `PgReads`), its client beside it. */
const registryWith = (maxConnections: number) => Layer.provideMerge(SqlRegistry.layer, pgClient(maxConnections))
const registryOn = (maxConnections: number) => Layer.provideMerge(registryWith(maxConnections), freshSchema)

const record = (handle: Handle, i: number, now: number) => ({
  serial: SerialHex.make((0xd000 + i).toString(16)),
  handle,
  fingerprint: Fingerprint.make((0xd000 + i).toString(16).padStart(64, "0")),
  der: new Uint8Array([0x30, 0x03, 0x02, 0x01, i & 0xff]),
  notBefore: now - DAY,
  notAfter: now + DAY,
  status: "good" as const
})

describe.skipIf(!postgres.reachable)("the registry's Lookup read through PgReads", () => {
  it.scoped("answers what the effectful statement answers; an interrupted Lookup leaves the others alone", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(registryOn(4))
      const registry = Context.get(context, IrpRegistry)
      const now = Date.now()
      const handles = Array.from({ length: 20 }, (_, i) => Handle.make(`reads${i}@example.org`))
      for (const [i, handle] of handles.entries())
        if (i % 4 !== 3) yield* registry.recordCertificate(record(handle, i, now))
      // One Lookup interrupted while it waits for its batch; the rest still get their own answers.
      const doomed = yield* Effect.fork(registry.currentIdentity({ handle: handles[0]!, now }))
      const reads = yield* Effect.fork(
        Effect.all(
          handles.map((handle) => registry.currentIdentity({ handle, now })),
          { concurrency: "unbounded" }
        )
      )
      yield* Fiber.interrupt(doomed)
      const answers = yield* Fiber.join(reads)
      answers.forEach((answer, i) => {
        expect(answer.bindings).toEqual([])
        if (i % 4 === 3) expect(answer.certificate).toBeUndefined()
        else {
          const { der, ...rest } = record(handles[i]!, i, now)
          expect(answer.certificate).toMatchObject(rest)
          expect(Array.from(answer.certificate?.der ?? [])).toEqual(Array.from(der))
        }
      })
    })
  )

  it.scoped("a storage failure is a typed Storage error for every waiting Lookup, and reads resume after it", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(registryOn(4))
      const registry = Context.get(context, IrpRegistry)
      const sql = Context.get(context, SqlClient.SqlClient)
      const now = Date.now()
      const handle = Handle.make("fails@example.org")
      yield* registry.recordCertificate(record(handle, 1, now))
      yield* sql.unsafe("ALTER TABLE irp_certificates RENAME TO irp_certificates_away")
      const failed = yield* Effect.all(
        Array.from({ length: 8 }, () => Effect.flip(registry.currentIdentity({ handle, now }))),
        { concurrency: "unbounded" }
      )
      for (const error of failed) {
        expect(error._tag).toBe("RegistryError")
        expect(error.reason).toBe("Storage")
        expect(error.message).toContain("check that it is reachable and writable")
      }
      yield* sql.unsafe("ALTER TABLE irp_certificates_away RENAME TO irp_certificates")
      expect((yield* registry.currentIdentity({ handle, now })).certificate?.serial).toBe(record(handle, 1, now).serial)
    })
  )

  it.live("closing the registry interrupts the Lookups still waiting", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(registryOn(1), scope)
      const registry = Context.get(context, IrpRegistry)
      const reads = Context.get(context, PgReads)
      // The only connection is busy (an interrupted read lets its statement finish), so the Lookups'
      // batch waits for it while the registry closes.
      const busy = yield* Effect.fork(reads.all("SELECT pg_sleep(CAST($1 AS FLOAT8))", [0.5]))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(busy)
      const waiting = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 4 }, (_, i) =>
            registry.currentIdentity({ handle: Handle.make(`closing${i}@example.org`), now: Date.now() })
          ),
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.sleep("50 millis")
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiting).pipe(Effect.timeout("5 seconds"))
      expect(Exit.isInterrupted(exit)).toBe(true)
    })
  )
})

/**
 * The plan PostgreSQL uses for `text` as a prepared statement once it stops planning per call (the
 * generic plan, which `pg`'s named statements get after five calls), for `args` (SQL literals).
 */
const genericPlan = (sql: SqlClient.SqlClient, text: string, types: string, args: string) =>
  sql.withTransaction(
    Effect.gen(function* () {
      yield* sql.unsafe("SET LOCAL plan_cache_mode = force_generic_plan")
      yield* sql.unsafe(`PREPARE sixchat_plan_test(${types}) AS ${text}`)
      const lines = yield* sql.unsafe<Record<string, string>>(`EXPLAIN EXECUTE sixchat_plan_test(${args})`)
      yield* sql.unsafe("DEALLOCATE sixchat_plan_test")
      return lines.map((line) => Object.values(line).join("")).join("\n")
    })
  )

describe.skipIf(!postgres.reachable)("the batched statements' plans", () => {
  it.scoped("the Lookup read's and a registration wave's generic plans search by key, whatever the batch", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(registryOn(2))
      const registry = Context.get(context, IrpRegistry)
      const sql = Context.get(context, SqlClient.SqlClient).withoutTransforms()
      const now = Date.now()
      // A registry of a few thousand identities, where plain joins planned for `json_to_recordset`'s
      // default estimate (100 rows) hashed both whole tables for every batch.
      const addresses = JSON.stringify([{ host: "192.0.2.1", port: 4605 }])
      yield* sql`INSERT INTO irp_certificates (serial, handle, fingerprint, der, not_before, not_after, status)
        SELECT 'e' || to_hex(i), 'plan' || i || '@example.org', lpad(to_hex(i), 64, '0'), ${new Uint8Array(600)},
          ${now - DAY}, ${now + DAY}, 'good' FROM generate_series(1, 2000) AS i`
      yield* sql`INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
        SELECT 'plan' || i || '@example.org', 'd' || (i % 3), ${addresses}, NULL, ${now + DAY}, 1, ${now}
        FROM generate_series(1, 2000) AS i`
      yield* sql.unsafe("ANALYZE irp_certificates, irp_bindings")
      const [text] = identityBatch(sql, "[]").compile()
      const pairs = JSON.stringify([
        { i: 0, handle: "plan7@example.org", at: now },
        { i: 1, handle: "nobody@example.org", at: now }
      ])
      const plan = yield* genericPlan(sql, text, "text", `'${pairs}'`)
      expect(plan).toContain("Index Scan Backward using irp_certificates_current on irp_certificates")
      expect(plan).toContain("Index Scan using irp_bindings_pkey on irp_bindings")
      expect(plan).not.toContain("Seq Scan")
      expect(plan).not.toContain("Hash")
      // And the registry's answers through it: the current certificate and its bindings, none for a stranger.
      const found = yield* registry.currentIdentity({ handle: Handle.make("plan7@example.org"), now })
      expect(found.certificate?.serial).toBe("e7")
      expect(found.bindings.map((b) => b.deviceId)).toEqual(["d1"])
      const stranger = yield* registry.currentIdentity({ handle: Handle.make("nobody@example.org"), now })
      expect(stranger).toEqual({ certificate: undefined, bindings: [] })

      // A registration wave (`pgRegister.ts`): the stored seq, the device count and the other bindings are
      // searches by key too (EXPLAIN alone: the statement's upsert does not run).
      const [wave] = waveStatement(sql, "[]", 16).compile()
      const registrations = JSON.stringify([
        {
          i: 0,
          handle: "plan7@example.org",
          device_id: "d9",
          addresses: addresses,
          observed: null,
          expires_at: now + DAY,
          seq: "2",
          now
        }
      ])
      const wavePlan = yield* genericPlan(sql, wave, "text, int8", `'${registrations}', 16`)
      expect(wavePlan).toContain("irp_bindings_pkey")
      expect(wavePlan).not.toContain("Seq Scan")
    })
  )
})
