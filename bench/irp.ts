/**
 * `npm run bench:irp` (IRP issue section 6): in one run, lookups/s and registrations/s over 1 and 16
 * authenticated connections with p50/p99 latency, for SQLite and PostgreSQL, beside the anchor: a bare
 * request/response server on Node's TLS 1.3 with mutual auth answering each request with a fixed reply
 * (same certificates, same request and answer sizes, same concurrency). `lookup_ratio = ours / bare`.
 * And lookups/s with 1,000,000 registered identities against 1,000 (the lookup cost must not grow with
 * the registry). Flags: `--json` (one JSON object on stdout), `--quick` (short runs, 100,000 identities).
 *
 * Every system runs at once in its own server process (`irp/server.ts`): the anchor, our server on a
 * SQLite file and on a PostgreSQL schema holding 1,000 identities, and the same two holding 1,000,000.
 * Clients run in this process. Each figure is measured in rounds of short slices, the systems in a
 * different order each round, so that other work on the (shared) machine falls on all of them alike.
 * Beside them, for information, the floor of this design (`irp/floor.ts`): the protocol's own per-request
 * work on the same SQLite file as plain callbacks, no product machinery; `floor.lookup_ratio_c16` says how
 * close any implementation of this protocol on this stack could come to the anchor, `floor.scale_ratio`
 * what the registry's size costs that work alone.
 * PostgreSQL: `SIXCHAT_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`), fresh schemas
 * dropped afterwards; skipped with a note when unreachable.
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
import { bareSystem, both, floorSystem, oursSystem, pgSchema, type System } from "./irp/systems.js"
import { combine, type Figures, figuresOf, type Measured } from "./irp/wire.js"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")
const json = args.has("--json")
const ROUNDS = quick ? 2 : 5
const SLICE_SECONDS = quick ? 0.6 : 1.5
/**
 * Load each server gets before anything is measured. A server on the 1,000,000-identity file needs about
 * 10 s of lookups before its memory map of the file (~0.9 GB) is filled in and its lookups run at their
 * steady rate (measured: resident file pages and page faults per lookup level off after ~9 s); the
 * minimum compares steady states, so every server gets that long.
 */
const WARMUP_SECONDS = quick ? 1 : 12
const SMALL = 1_000
const LARGE = quick ? 100_000 : 1_000_000
const CACHE_ENTRIES = 10_000
const PG_URL = process.env.SIXCHAT_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const say = (line: string) => (json ? Effect.void : Effect.sync(() => process.stderr.write(`${line}\n`)))

type Kind = "lookup" | "register"
interface Scenario {
  readonly kind: Kind
  readonly connections: 1 | 16
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
    `IRP benchmark: ${ROUNDS} rounds of ${SLICE_SECONDS} s slices per figure; Lookup ${docs.lookup.length} B -> ${docs.lookupResult.length} B, Register ${docs.register.length} B -> ${docs.registered.length} B`
  )
  const ours = (
    name: string,
    db: string,
    layer: Layer.Layer<SqlClient.SqlClient, unknown>,
    population: number,
    cache = 0
  ) =>
    Effect.tap(
      oursSystem(name, dir, db, layer, population, identities, filler, domain.rootCertificate, cache),
      ({ insertSeconds }) => say(`  ${name}: ${population} identities inserted in ${insertSeconds} s`)
    )
  const sqliteAt = (file: string) => ({ db: `sqlite:${file}`, layer: Database.layer({ _tag: "Sqlite", path: file }) })

  const [bare, bareRegister] = yield* bareSystem(dir, identities, docs)
  const small = sqliteAt(join(root, "small.sqlite"))
  const large = sqliteAt(join(root, "large.sqlite"))
  const sqlite = yield* ours("sqlite", small.db, small.layer, SMALL)
  const sqliteLarge = yield* ours("sqlite-large", large.db, large.layer, LARGE)
  const floor = yield* floorSystem("floor", dir, small.db, SMALL)
  const floorLarge = yield* floorSystem("floor-large", dir, large.db, LARGE)
  // For information (the minimums are the default server's): the same two files served with the Lookup
  // answer cache an operator can turn on, 10,000 entries.
  const cached = yield* ours("sqlite-cache", small.db, small.layer, SMALL, CACHE_ENTRIES)
  const cachedLarge = yield* ours("sqlite-cache-large", large.db, large.layer, LARGE, CACHE_ENTRIES)
  const pgSmallUrl = yield* pgSchema(PG_URL)
  const pgLargeUrl = pgSmallUrl === undefined ? undefined : yield* pgSchema(PG_URL)
  const pg =
    pgSmallUrl === undefined || pgLargeUrl === undefined
      ? undefined
      : {
          small: yield* ours("postgres", pgSmallUrl, PgLive.layer(pgSmallUrl, { maxConnections: 2 }), SMALL),
          large: yield* ours("postgres-large", pgLargeUrl, PgLive.layer(pgLargeUrl, { maxConnections: 2 }), LARGE)
        }
  if (pg === undefined) yield* say(`  PostgreSQL not reachable at ${PG_URL}: skipped`)

  const oursSmall = [sqlite.system, ...(pg === undefined ? [] : [pg.small.system])]
  const scenarios: ReadonlyArray<Scenario> = [
    { kind: "lookup", connections: 1, systems: [bare, ...oursSmall] },
    {
      kind: "lookup",
      connections: 16,
      systems: [
        bare,
        floor,
        floorLarge,
        ...oursSmall,
        sqliteLarge.system,
        ...(pg === undefined ? [] : [pg.large.system]),
        cached.system,
        cachedLarge.system
      ]
    },
    { kind: "register", connections: 1, systems: [bareRegister, ...oursSmall] },
    { kind: "register", connections: 16, systems: [bareRegister, ...oursSmall] }
  ]

  // Warm-up: the JIT of every server process (and of this one) and the large files' memory maps before
  // anything is measured, each server as long as the others whatever it serves.
  const warmed = new Set<System>()
  for (const scenario of scenarios)
    for (const system of scenario.systems) {
      if (warmed.has(system)) continue
      warmed.add(system)
      yield* Effect.promise(() => measure(system.server, 16, both(system), WARMUP_SECONDS * 1000, 0))
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
      }
    }
    yield* say(`  round ${round + 1}/${ROUNDS} done`)
  }
  const fig = (name: string, kind: Kind, c: 1 | 16): Figures => figuresOf(combine(slices.get(`${name}/${kind}/c${c}`)!))
  const perConnections = (name: string, kind: Kind) => ({ c1: fig(name, kind, 1), c16: fig(name, kind, 16) })
  const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000
  const bareOut = { lookup: perConnections("bare", "lookup"), register: perConnections("bare-register", "register") }
  const storage = (name: string, largeName: string, insertSeconds: number) => {
    const lookup = perConnections(name, "lookup")
    const register = perConnections(name, "register")
    const largeLookup = fig(largeName, "lookup", 16)
    return {
      lookup,
      register,
      lookup_ratio: {
        c1: ratio(lookup.c1.perSecond, bareOut.lookup.c1.perSecond),
        c16: ratio(lookup.c16.perSecond, bareOut.lookup.c16.perSecond)
      },
      register_ratio: {
        c1: ratio(register.c1.perSecond, bareOut.register.c1.perSecond),
        c16: ratio(register.c16.perSecond, bareOut.register.c16.perSecond)
      },
      scale: {
        small: { identities: SMALL, lookup: lookup.c16 },
        large: { identities: LARGE, lookup: largeLookup, insertSeconds }
      },
      scale_ratio: ratio(largeLookup.perSecond, lookup.c16.perSecond)
    }
  }
  const sqliteOut = storage("sqlite", "sqlite-large", sqliteLarge.insertSeconds)
  return {
    machine: {
      cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
      cores: Os.availableParallelism(),
      node: process.version,
      openssl: process.versions.openssl,
      platform: `${Os.platform()} ${Os.release()} ${Os.arch()}`,
      loadAverage: Os.loadavg().map((l) => Math.round(l * 100) / 100)
    },
    config: { rounds: ROUNDS, sliceSeconds: SLICE_SECONDS, small: SMALL, large: LARGE, quick },
    documents: {
      lookup: docs.lookup.length,
      lookupResult: docs.lookupResult.length,
      register: docs.register.length,
      registered: docs.registered.length
    },
    bare: bareOut,
    sqlite: sqliteOut,
    floor: {
      lookup_c16: fig("floor", "lookup", 16),
      lookup_ratio_c16: ratio(fig("floor", "lookup", 16).perSecond, bareOut.lookup.c16.perSecond),
      sqlite_share_of_floor_c16: ratio(sqliteOut.lookup.c16.perSecond, fig("floor", "lookup", 16).perSecond),
      large_lookup_c16: fig("floor-large", "lookup", 16),
      scale_ratio: ratio(fig("floor-large", "lookup", 16).perSecond, fig("floor", "lookup", 16).perSecond)
    },
    sqlite_with_lookup_cache: {
      entries: CACHE_ENTRIES,
      lookup_c16: fig("sqlite-cache", "lookup", 16),
      lookup_ratio_c16: ratio(fig("sqlite-cache", "lookup", 16).perSecond, bareOut.lookup.c16.perSecond),
      large_lookup_c16: fig("sqlite-cache-large", "lookup", 16),
      scale_ratio: ratio(fig("sqlite-cache-large", "lookup", 16).perSecond, fig("sqlite-cache", "lookup", 16).perSecond)
    },
    postgres:
      pg === undefined
        ? { skipped: `PostgreSQL not reachable at ${PG_URL}` }
        : storage("postgres", "postgres-large", pg.large.insertSeconds),
    minimums: {
      sqlite_lookup_ratio_c16: {
        value: sqliteOut.lookup_ratio.c16,
        minimum: 0.3,
        ok: sqliteOut.lookup_ratio.c16 >= 0.3
      },
      sqlite_scale_ratio: { value: sqliteOut.scale_ratio, minimum: 0.8, ok: sqliteOut.scale_ratio >= 0.8 }
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
