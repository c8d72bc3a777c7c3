/**
 * The registry suite on SQLite: a real database file in a temporary directory, with the settings
 * `SqliteLive` promises (WAL, busy timeout, foreign keys).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer } from "effect"
import { type Handle, makeAddress } from "../../../src/domain/brands.js"
import type { CertificateRecord, SerialHex } from "../../../src/domain/irp/certificates.js"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import { migrate, migrations } from "../../../src/layers/irp/registry/migrations.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as SqliteLive from "../../../src/layers/sql/SqliteLive.js"
import { SyncReads, type SyncReadsService } from "../../../src/layers/sql/SyncReads.js"
import { IrpRegistry, type IrpRegistryService } from "../../../src/services/IrpRegistry.js"
import { freshHandle, registrySuite } from "./suite.js"

/** A fresh directory for the test's database files, removed afterwards. */
/** Registers device `d` of `handle` at one address, lease 60 s, `seq` 1. */
const registerDevice = (registry: IrpRegistryService, handle: Handle, now: number) =>
  registry.register({
    handle,
    deviceId: DeviceId.make("d"),
    addresses: [makeAddress("192.0.2.1", 4605)],
    ttlSeconds: 60,
    seq: Seq.make(1n),
    observed: undefined,
    now
  })

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-registry-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const onFreshFile = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) => SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(join(dir, "irp.db")))))
)

registrySuite("IrpRegistry on SQLite", onFreshFile)

it.scoped("SqliteLive: WAL, busy timeout and foreign keys are on", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const context = yield* Layer.build(SqliteLive.layer(join(dir, "settings.db")))
    const sql = Context.get(context, SqlClient.SqlClient)
    const [journal] = yield* sql<{ readonly journal_mode: string }>`PRAGMA journal_mode`
    const [busy] = yield* sql<{ readonly timeout: number }>`PRAGMA busy_timeout`
    const [fk] = yield* sql<{ readonly foreign_keys: number }>`PRAGMA foreign_keys`
    expect([journal?.journal_mode, busy?.timeout, fk?.foreign_keys]).toEqual(["wal", SqliteLive.BUSY_TIMEOUT_MS, 1])
  })
)

it.scoped("the file keeps its bindings across restarts, and migrating again is a no-op", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const file = join(dir, "restart.db")
    const handle = freshHandle("restart")
    const now = yield* Clock.currentTimeMillis
    const run = <A, E>(effect: Effect.Effect<A, E, IrpRegistry>) =>
      Effect.provide(effect, SqlRegistry.layer.pipe(Layer.provide(SqliteLive.layer(file))))
    yield* run(
      Effect.flatMap(IrpRegistry, (r) =>
        r.register({
          handle,
          deviceId: DeviceId.make("d"),
          addresses: [makeAddress("192.0.2.1", 4605)],
          ttlSeconds: 60,
          seq: Seq.make(3n),
          observed: undefined,
          now
        })
      )
    )
    const after = yield* run(Effect.flatMap(IrpRegistry, (r) => r.lookup({ handle, now })))
    expect(after.map((b) => [b.deviceId, b.seq])).toEqual([["d", 3n]])
  })
)

it.scoped("lookups and the device count are index searches, never table scans", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const context = yield* Layer.build(
      SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(join(dir, "plan.db"))))
    )
    const sql = Context.get(context, SqlClient.SqlClient)
    const plan = (statement: string, ...params: ReadonlyArray<unknown>) =>
      Effect.map(sql.unsafe<{ readonly detail: string }>(`EXPLAIN QUERY PLAN ${statement}`, params), (rows) =>
        rows.map((r) => r.detail).join("; ")
      )
    const lookup = yield* plan(
      "SELECT * FROM irp_bindings WHERE handle = ? AND expires_at > ? ORDER BY device_id",
      "a",
      1
    )
    const count = yield* plan(
      "SELECT COUNT(*) FROM irp_bindings WHERE handle = ? AND device_id <> ? AND expires_at > ?",
      "a",
      "b",
      1
    )
    const token = yield* plan("SELECT * FROM irp_tokens WHERE token_hash = ?", "00")
    const current = yield* plan(
      "SELECT * FROM irp_certificates WHERE handle = ? AND status = 'good' AND not_after > ? ORDER BY not_before DESC",
      "a",
      1
    )
    const identity = yield* plan(
      `SELECT c.serial, b.device_id FROM irp_certificates c
        LEFT JOIN irp_bindings b ON b.handle = c.handle AND b.expires_at > ?
        WHERE c.rowid = (SELECT rowid FROM irp_certificates WHERE handle = ? AND status = 'good' AND not_after > ?
          ORDER BY not_before DESC, serial DESC LIMIT 1)
        ORDER BY b.device_id`,
      1,
      "a",
      1
    )
    for (const p of [lookup, count, token, current, identity]) {
      expect(p).toMatch(/^SEARCH /)
      expect(p).not.toMatch(/\bSCAN\b/)
    }
    // Lookup's one read finds the current certificate in the index alone, in order: it sorts nothing.
    expect(identity).toContain("COVERING INDEX irp_certificates_current")
    expect(identity).not.toMatch(/TEMP B-TREE/)
    // ... and the certificate row by its rowid from that index, not through the serial's index.
    expect(identity).toContain("SEARCH c USING INTEGER PRIMARY KEY (rowid=?)")
    // ... and the bindings in their own table's key order (WITHOUT ROWID): one search, no index then table.
    expect(identity).toContain("SEARCH b USING PRIMARY KEY (handle=?)")
    expect(lookup).toContain("USING PRIMARY KEY (handle=?")
  })
)

it.live("another process's write to the file is heard as lost by onChange (the file's data_version moved)", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const file = join(dir, "shared.db")
    const open = Effect.map(Layer.build(SqlRegistry.layer.pipe(Layer.provide(SqliteLive.layer(file)))), (context) =>
      Context.get(context, IrpRegistry)
    )
    const server = yield* open
    const admin = yield* open
    let lost = 0
    const heard: Array<string> = []
    yield* server.onChange({ changed: (c) => heard.push(c.handle), lost: () => lost++ })
    // Nothing written elsewhere: a few polls go by unheard.
    yield* Effect.sleep("600 millis")
    expect(lost).toBe(0)
    const handle = freshHandle("elsewhere")
    const now = yield* Clock.currentTimeMillis
    yield* registerDevice(admin, handle, now)
    yield* Effect.sleep("600 millis")
    expect([lost, heard]).toEqual([1, []])
  }).pipe(Effect.scoped)
)

it.scoped("reads synchronously on a second connection that sees every commit at once", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const context = yield* Layer.build(SqlRegistry.layer.pipe(Layer.provide(SqliteLive.layer(join(dir, "sync.db")))))
    const registry = Context.get(context, IrpRegistry)
    const readNow = registry.currentIdentityNow
    expect(readNow).toBeDefined()
    const handle = freshHandle("sync")
    const now = yield* Clock.currentTimeMillis
    expect(readNow!({ handle, now })).toEqual({ certificate: undefined, bindings: [] })
    const record = {
      serial: "5a11" as SerialHex,
      handle,
      fingerprint: "ab".repeat(32) as CertificateRecord["fingerprint"],
      der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
      notBefore: now - 1000,
      notAfter: now + 86_400_000,
      status: "good" as const
    }
    yield* registry.recordCertificate(record)
    // Written through the effectful connection, read at once through the other one.
    expect(readNow!({ handle, now })).toEqual({ certificate: record, bindings: [] })
    const bindings = yield* registerDevice(registry, handle, now)
    expect(readNow!({ handle, now })).toEqual({ certificate: record, bindings })
  })
)

it.scoped("an in-memory database has no second connection: its reads stay effectful", () =>
  Effect.gen(function* () {
    const context = yield* Layer.build(SqlRegistry.layer.pipe(Layer.provide(SqliteLive.layer(":memory:"))))
    const registry = Context.get(context, IrpRegistry)
    expect(registry.currentIdentityNow).toBeUndefined()
    const now = yield* Clock.currentTimeMillis
    expect(yield* registry.currentIdentity({ handle: freshHandle("mem"), now })).toEqual({
      certificate: undefined,
      bindings: []
    })
  })
)

it.scoped(
  "the synchronous Lookup read takes its rows as arrays: the identity statement's columns are the decoder's",
  () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const storage = yield* Layer.build(SqliteLive.layer(join(dir, "arrays.db")))
      const reads = Context.unsafeGet(storage, SyncReads) as SyncReadsService
      const calls = { rows: 0, all: 0 }
      const counting: SyncReadsService = {
        ...reads,
        rows: (sql, params) => {
          calls.rows++
          return reads.rows(sql, params)
        },
        all: (sql, params) => {
          calls.all++
          return reads.all(sql, params)
        }
      }
      const context = yield* Layer.build(
        SqlRegistry.layer.pipe(Layer.provide(Layer.succeedContext(Context.add(storage, SyncReads, counting))))
      )
      const registry = Context.get(context, IrpRegistry)
      const handle = freshHandle("arrays")
      const now = yield* Clock.currentTimeMillis
      const record = {
        serial: "a11a" as SerialHex,
        handle,
        fingerprint: "cd".repeat(32) as CertificateRecord["fingerprint"],
        der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x02]),
        notBefore: now - 1000,
        notAfter: now + 86_400_000,
        status: "good" as const
      }
      yield* registry.recordCertificate(record)
      const bindings = yield* registerDevice(registry, handle, now)
      expect(registry.currentIdentityNow!({ handle, now })).toEqual({ certificate: record, bindings })
      expect(calls).toEqual({ rows: 1, all: 0 })
    })
)

it.scoped("SyncReads: read-only, memory-mapped, refuses statements that write", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const context = yield* Layer.build(SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(join(dir, "r.db")))))
    const reads = Context.unsafeGet(context, SyncReads)
    const [mmap] = reads.all("PRAGMA mmap_size", [])
    expect(Number(mmap?.mmap_size)).toBeGreaterThan(0)
    expect(() => reads.all("DELETE FROM irp_bindings", [])).toThrow()
    expect(() => reads.all("SELECT COUNT(*) AS n FROM irp_bindings WHERE handle = ?", ["x"])).not.toThrow()
    // The same rows as arrays, in select-list order, and the columns' names; writes refused there too.
    const statement = "SELECT 1 AS one, CAST(? AS TEXT) AS two UNION ALL SELECT 3, 'four'"
    expect(reads.rows(statement, ["2"])).toEqual([
      [1, "2"],
      [3, "four"]
    ])
    expect(reads.all(statement, ["2"])).toEqual([
      { one: 1, two: "2" },
      { one: 3, two: "four" }
    ])
    expect(reads.columns(statement)).toEqual(["one", "two"])
    expect(() => reads.rows("DELETE FROM irp_bindings", [])).toThrow()
  })
)

it.scoped(
  "a registry of the first schema is brought up to date: the current-certificate index replaces the old one",
  () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const context = yield* Layer.build(SqliteLive.layer(join(dir, "old.db")))
      const sql = Context.get(context, SqlClient.SqlClient)
      // The database as the first release left it: migration 1 only.
      yield* sql.unsafe("CREATE TABLE irp_schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
      for (const statement of migrations[0]!.statements({ blob: "BLOB" })) yield* sql.unsafe(statement)
      yield* sql.unsafe("INSERT INTO irp_schema_migrations (id, name) VALUES (1, 'create_registry')")
      const indexes = sql<{ readonly name: string }>`SELECT name FROM sqlite_master
      WHERE type = 'index' AND tbl_name = 'irp_certificates' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name`
      expect((yield* indexes).map((r) => r.name)).toEqual(["irp_certificates_handle", "irp_certificates_revoked"])
      // Two bindings as that release wrote them (a table with rowids).
      yield* sql.unsafe(`INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
        VALUES ('a@example.org', 'phone', '[{"host":"192.0.2.1","port":1}]', NULL, 5000, 7, 1000),
          ('a@example.org', 'laptop', '[{"host":"192.0.2.2","port":2}]', '{"host":"198.51.100.1","port":3}', 6000, 9, 2000)`)
      const bindings = sql`SELECT * FROM irp_bindings ORDER BY handle, device_id`
      const before = yield* bindings
      const run = Effect.provideService(migrate, SqlClient.SqlClient, sql)
      expect(yield* run).toEqual([2, 3])
      expect((yield* indexes).map((r) => r.name)).toEqual(["irp_certificates_current", "irp_certificates_revoked"])
      // Migration 3: the same rows, now in a table without rowids, with its expiry index and its checks.
      expect(yield* bindings).toEqual(before)
      const table = yield* sql<{ readonly sql: string }>`SELECT sql FROM sqlite_master WHERE name = 'irp_bindings'`
      expect(table[0]?.sql).toMatch(/WITHOUT ROWID$/)
      expect((yield* Effect.either(sql.unsafe("SELECT rowid FROM irp_bindings")))._tag).toBe("Left")
      const bindingIndexes = yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master
        WHERE type = 'index' AND tbl_name = 'irp_bindings' AND name NOT LIKE 'sqlite_autoindex%'`
      expect(bindingIndexes.map((r) => r.name)).toEqual(["irp_bindings_expires_at"])
      const negative =
        sql.unsafe(`INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
        VALUES ('b@example.org', 'x', '[]', NULL, 1, -1, 1)`)
      expect((yield* Effect.either(negative))._tag).toBe("Left")
      const duplicate =
        sql.unsafe(`INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
        VALUES ('a@example.org', 'phone', '[]', NULL, 1, 1, 1)`)
      expect((yield* Effect.either(duplicate))._tag).toBe("Left")
      expect(yield* run).toEqual([])
    })
)
