/**
 * `npm run bench:irp` (issue 15): at 16 connections, lookups/s and registrations/s of our IRP server
 * against the same-work anchor (`irp/anchor.ts`: a `node:tls` 1.3 mutual server running the registry's
 * own statements through better-sqlite3 or a `pg` pool with plain callbacks and answering the same
 * content as JSON), on SQLite and on PostgreSQL: `lookup_ratio` and `register_ratio = ours / anchor` per
 * store, `devices_per_core` (registrations/s per core of the server process × 150 s, a 300 s lease
 * renewed at half-life), `scale_ratio` (lookups with 1,000,000 identities ÷ 1,000), `scale_out` (two
 * server processes on one PostgreSQL ÷ one) and `minimums` with pass/fail. Flags: `--json` (one JSON
 * object on stdout), `--quick` (short runs, 100,000 identities; the same keys).
 *
 * Every system runs at once in its own server process (`irp/server.ts`); clients run in this process.
 * Each figure is measured in rounds of short slices, the systems in a different order each round, so
 * that other work on the (shared) machine falls on all of them alike. For information beside them: the
 * floor of this design (`irp/floor.ts`) and our server with the Lookup answer cache on.
 * PostgreSQL: `SIXCHAT_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`), fresh schemas
 * dropped afterwards; skipped with a note when unreachable. `SIXCHAT_BENCH_SERVER_FLAGS`: node flags for
 * the server processes (e.g. `--cpu-prof`).
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as Os from "node:os"
import { join } from "node:path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Effect, Exit, Layer } from "effect"
import * as CryptoLive from "../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../src/layers/EntropyLive.js"
import * as Database from "../src/layers/sql/Database.js"
import * as PgLive from "../src/layers/sql/PgLive.js"
import * as TcpTransport from "../src/layers/transport/TcpTransport.js"
import { measure } from "./irp/load.js"
import { documents, prepareDomain } from "./irp/setup.js"
import { anchorSystem, floorSystem, oursSystem, pgSchema, type System, twoProcesses } from "./irp/systems.js"
import { combine, type Figures, figuresOf, type Measured } from "./irp/wire.js"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")
const json = args.has("--json")
const ROUNDS = quick ? 2 : 5
const SLICE_SECONDS = quick ? 0.6 : 1.5
/**
 * Load each server gets before anything is measured: at least `WARMUP_SECONDS`, then slices of
 * `WARM_SLICE_SECONDS`, each kind of request it is measured on in turn, until its CPU per operation (client
 * and server) has not fallen for three slices of each kind and it has done `WARMUP_OPERATIONS` of each,
 * within `WARMUP_MAX_SECONDS`: the same rule for every system, as `bench/channel.ts` warms its
 * contenders. Our server is JavaScript on Effect: its JIT needs seconds of requests (in a quick run with
 * 1 s of warm-up it cost about twice its steady CPU per lookup), the anchor settles sooner. A server on
 * the 1,000,000-identity file needs about 10 s of lookups before its memory map of the file (~0.9 GB) is
 * filled in and its lookups run at their steady rate (measured: resident file pages and page faults per
 * lookup level off after ~9 s); the minimum compares steady states, so every server gets that long in
 * the full run.
 */
const WARMUP_SECONDS = quick ? 4 : 12
const WARMUP_MAX_SECONDS = quick ? 20 : 30
/**
 * Operations of each kind every system does in its warm-up, whatever the time that takes. V8 optimizes a
 * function after a number of calls, not of seconds: on a loaded machine 4 s of lookups and registrations
 * mixed (each connection waiting for both, so lookups went at the pace of the durable registrations)
 * were ~2,000–4,000 lookups, and our server's hottest functions (`serveOne`, `parseXml`, the rate
 * limiter, the record sealing) were first optimized by TurboFan during the measured slices, which then
 * paid the interpreter and the compiler threads (`--trace-opt`, docs/BENCHMARKS.md, seventh session).
 */
const WARMUP_OPERATIONS = 10_000
const WARM_SLICE_SECONDS = quick ? 0.5 : 1
const SMALL = 1_000
const LARGE = quick ? 100_000 : 1_000_000
const CACHE_ENTRIES = 10_000
const PG_URL = process.env.SIXCHAT_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const say = (line: string) => (json ? Effect.void : Effect.sync(() => process.stderr.write(`${line}\n`)))

type Kind = "lookup" | "register"
interface Scenario {
  readonly kind: Kind
  readonly connections: 16
  readonly systems: ReadonlyArray<System>
}

const program = Effect.gen(function* () {
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(Os.tmpdir(), "sixchat-bench-irp-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const dir = join(root, "domain")
  const { domain, identities, filler } = yield* prepareDomain(dir, 16)
  const docs = documents(domain, filler.der, Date.now())
  yield* say(
    `IRP benchmark: ${ROUNDS} rounds of ${SLICE_SECONDS} s slices per figure at 16 connections; Lookup ${docs.lookup.length} B -> ${docs.lookupResult.length} B, Register ${docs.register.length} B -> ${docs.registered.length} B`
  )
  const ours = (
    name: string,
    db: string,
    layer: Layer.Layer<SqlClient.SqlClient, unknown>,
    population: number,
    cache = 0,
    fresh = cache === 0
  ) =>
    Effect.tap(
      oursSystem(name, dir, db, layer, population, identities, filler, domain.rootCertificate, cache, fresh),
      ({ insertSeconds }) => say(`  ${name}: ${population} identities inserted in ${insertSeconds} s`)
    )
  const anchor = (name: string, db: string, layer: Layer.Layer<SqlClient.SqlClient, unknown>) =>
    anchorSystem(name, dir, db, layer, SMALL, identities, filler)
  const sqliteAt = (file: string) => ({ db: `sqlite:${file}`, layer: Database.layer({ _tag: "Sqlite", path: file }) })
  const pgAt = (url: string) => ({ db: url, layer: PgLive.layer(url, { maxConnections: 2 }) })

  const anchorFile = sqliteAt(join(root, "anchor.sqlite"))
  const small = sqliteAt(join(root, "small.sqlite"))
  const large = sqliteAt(join(root, "large.sqlite"))
  const anchorSqlite = yield* anchor("anchor-sqlite", anchorFile.db, anchorFile.layer)
  const sqlite = yield* ours("sqlite", small.db, small.layer, SMALL)
  const sqliteLarge = yield* ours("sqlite-large", large.db, large.layer, LARGE)
  // For information: the floor of this design and the Lookup answer cache an operator can turn on.
  const floor = yield* floorSystem("floor", dir, small.db, SMALL)
  const cached = yield* ours("sqlite-cache", small.db, small.layer, SMALL, CACHE_ENTRIES)

  const pgUrls = yield* pgSchema(PG_URL)
  const pg =
    pgUrls === undefined
      ? undefined
      : yield* Effect.gen(function* () {
          const anchorUrl = pgAt(pgUrls)
          const smallUrl = pgAt((yield* pgSchema(PG_URL))!)
          const largeUrl = pgAt((yield* pgSchema(PG_URL))!)
          const anchorPg = yield* anchor("anchor-pg", anchorUrl.db, anchorUrl.layer)
          const smallPg = yield* ours("postgres", smallUrl.db, smallUrl.layer, SMALL)
          const largePg = yield* ours("postgres-large", largeUrl.db, largeUrl.layer, LARGE)
          // scale_out: a second process on the first one's schema; connections alternate between the two.
          const secondPg = yield* ours("postgres-second", smallUrl.db, smallUrl.layer, SMALL, 0, false)
          return {
            anchor: anchorPg,
            small: smallPg,
            large: largePg,
            duo: twoProcesses("postgres-two", smallPg.system, secondPg.system)
          }
        })
  if (pg === undefined) yield* say(`  PostgreSQL not reachable at ${PG_URL}: skipped`)

  const scenarios: ReadonlyArray<Scenario> = [
    {
      kind: "lookup",
      connections: 16,
      systems: [
        anchorSqlite,
        sqlite.system,
        sqliteLarge.system,
        floor,
        cached.system,
        ...(pg === undefined ? [] : [pg.anchor, pg.small.system, pg.large.system, pg.duo])
      ]
    },
    {
      kind: "register",
      connections: 16,
      systems: [anchorSqlite, sqlite.system, ...(pg === undefined ? [] : [pg.anchor, pg.small.system, pg.duo])]
    }
  ]

  // Warm-up: the JIT of every server process (and of this one) and the large files' memory maps before
  // anything is measured, each server as long as the others whatever it serves. Each kind a system is
  // measured on gets slices of its own, in turn, and at least `WARMUP_OPERATIONS` of each are done.
  const kindsOf = (system: System): ReadonlyArray<Kind> =>
    scenarios.filter((s) => s.systems.includes(system)).map((s) => s.kind)
  const warmed = new Set<System>()
  for (const scenario of scenarios)
    for (const system of scenario.systems) {
      if (warmed.has(system)) continue
      warmed.add(system)
      const kinds = kindsOf(system)
      const started = performance.now()
      const elapsed = () => (performance.now() - started) / 1000
      const done = new Map<Kind, number>(kinds.map((k) => [k, 0]))
      const best = new Map<Kind, number>(kinds.map((k) => [k, Number.POSITIVE_INFINITY]))
      const steady = new Map<Kind, number>(kinds.map((k) => [k, 0]))
      const settled = () =>
        kinds.every((k) => steady.get(k)! >= 3 && done.get(k)! >= WARMUP_OPERATIONS) && elapsed() >= WARMUP_SECONDS
      for (let i = 0; !settled() && elapsed() < WARMUP_MAX_SECONDS; i++) {
        const kind = kinds[i % kinds.length]!
        const m = yield* Effect.promise(() => measure(system.server, 16, system[kind], WARM_SLICE_SECONDS * 1000, 0))
        const cost = (m.clientCpuMicros + m.serverCpuMicros) / Math.max(1, m.operations)
        done.set(kind, done.get(kind)! + m.operations)
        steady.set(kind, cost > best.get(kind)! * 0.95 ? steady.get(kind)! + 1 : 0)
        best.set(kind, Math.min(best.get(kind)!, cost))
      }
      yield* say(
        `  warm-up: ${system.name}, ${elapsed().toFixed(1)} s, ${kinds.map((k) => `${done.get(k)} ${k}s at ${Math.round(best.get(k)!)} us CPU each`).join(", ")}`
      )
    }

  const slices = new Map<string, Array<Measured>>()
  const key = (s: Scenario, system: System) => `${system.name}/${s.kind}/c${s.connections}`
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) {
      const n = scenario.systems.length
      const order = scenario.systems.map((_, i) => scenario.systems[(i + round) % n]!)
      for (const system of order) {
        const m = yield* Effect.promise(() =>
          measure(system.server, scenario.connections, system[scenario.kind], SLICE_SECONDS * 1000, 0)
        )
        const k = key(scenario, system)
        slices.set(k, [...(slices.get(k) ?? []), m])
        // SIXCHAT_BENCH_SLICES=1: every measured slice on stderr (to compare slices of quick and full runs).
        if (process.env.SIXCHAT_BENCH_SLICES !== undefined)
          process.stderr.write(
            `slice ${k} end ${Date.now()} ops ${m.operations} server ${Math.round(m.serverCpuMicros / Math.max(1, m.operations))} client ${Math.round(m.clientCpuMicros / Math.max(1, m.operations))} us/op\n`
          )
      }
    }
    yield* say(`  round ${round + 1}/${ROUNDS} done`)
  }
  const fig = (name: string, kind: Kind): Figures => figuresOf(combine(slices.get(`${name}/${kind}/c16`)!))
  const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000
  /** Registrations/s per core of the server process, times the 150 s a device renews its 300 s lease after. */
  const devicesPerCore = (register: Figures) =>
    Math.round((register.perSecond / Math.max(0.01, register.serverCores)) * 150)
  const storage = (anchorName: string, name: string, largeName: string, insertSeconds: number) => {
    const anchorFigures = { lookup: fig(anchorName, "lookup"), register: fig(anchorName, "register") }
    const lookup = fig(name, "lookup")
    const register = fig(name, "register")
    const largeLookup = fig(largeName, "lookup")
    return {
      anchor: anchorFigures,
      lookup,
      register,
      lookup_ratio: ratio(lookup.perSecond, anchorFigures.lookup.perSecond),
      register_ratio: ratio(register.perSecond, anchorFigures.register.perSecond),
      devices_per_core: devicesPerCore(register),
      anchor_devices_per_core: devicesPerCore(anchorFigures.register),
      scale: {
        small: { identities: SMALL, lookup },
        large: { identities: LARGE, lookup: largeLookup, insertSeconds }
      },
      scale_ratio: ratio(largeLookup.perSecond, lookup.perSecond)
    }
  }
  const sqliteOut = storage("anchor-sqlite", "sqlite", "sqlite-large", sqliteLarge.insertSeconds)
  const pgOut =
    pg === undefined ? undefined : storage("anchor-pg", "postgres", "postgres-large", pg.large.insertSeconds)
  const minimum = (value: number, min: number) => ({ value, minimum: min, ok: value >= min })
  return {
    machine: {
      cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
      cores: Os.availableParallelism(),
      node: process.version,
      openssl: process.versions.openssl,
      platform: `${Os.platform()} ${Os.release()} ${Os.arch()}`,
      loadAverage: Os.loadavg().map((l) => Math.round(l * 100) / 100)
    },
    config: { rounds: ROUNDS, sliceSeconds: SLICE_SECONDS, connections: 16, small: SMALL, large: LARGE, quick },
    documents: {
      lookup: docs.lookup.length,
      lookupResult: docs.lookupResult.length,
      register: docs.register.length,
      registered: docs.registered.length
    },
    sqlite: sqliteOut,
    floor: {
      lookup: fig("floor", "lookup"),
      lookup_ratio: ratio(fig("floor", "lookup").perSecond, sqliteOut.anchor.lookup.perSecond)
    },
    sqlite_with_lookup_cache: {
      entries: CACHE_ENTRIES,
      lookup: fig("sqlite-cache", "lookup"),
      lookup_ratio: ratio(fig("sqlite-cache", "lookup").perSecond, sqliteOut.anchor.lookup.perSecond)
    },
    postgres: pgOut ?? { skipped: `PostgreSQL not reachable at ${PG_URL}` },
    scale_out:
      pgOut === undefined
        ? { skipped: `PostgreSQL not reachable at ${PG_URL}` }
        : {
            lookup: fig("postgres-two", "lookup"),
            register: fig("postgres-two", "register"),
            lookup_ratio: ratio(fig("postgres-two", "lookup").perSecond, pgOut.lookup.perSecond),
            register_ratio: ratio(fig("postgres-two", "register").perSecond, pgOut.register.perSecond)
          },
    minimums: {
      lookup_ratio: minimum(sqliteOut.lookup_ratio, 0.5),
      register_ratio: minimum(sqliteOut.register_ratio, 0.5),
      scale_ratio: minimum(sqliteOut.scale_ratio, 0.8),
      ...(pgOut === undefined
        ? {}
        : {
            pg_lookup_ratio: minimum(pgOut.lookup_ratio, 0.5),
            pg_register_ratio: minimum(pgOut.register_ratio, 0.5),
            pg_scale_ratio: minimum(pgOut.scale_ratio, 0.8)
          })
    }
  }
}).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)))

Effect.runPromiseExit(program).then((exit) => {
  if (Exit.isSuccess(exit)) {
    process.stdout.write(`${JSON.stringify(exit.value, null, json ? undefined : 2)}\n`)
    process.exit(0)
  }
  process.stderr.write(`bench:irp failed: ${Cause.pretty(exit.cause)}\n`)
  process.exit(1)
})
