/**
 * A short focused run for profiling the IRP server (not a benchmark of record: `../irp.ts` is): our
 * server and the same-work anchor over SQLite files (or PostgreSQL schemas, `postgres`) of 1,000
 * identities, 16 connections each, in alternating slices of one kind of request; prints the throughput
 * and the server CPU per request of both. `scale` instead: our server over 1,000 identities against our
 * server over LARGE (default 1,000,000), Lookups (`bench:irp`'s `scale_ratio`), after a 12 s warm-up each.
 * `SIXCHAT_BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=D"` profiles the server processes. PostgreSQL: `SIXCHAT_BENCH_PG_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`), fresh schemas dropped afterwards.
 *
 *     node dist-bench/bench/irp/profile.js lookup|register|scale [SECONDS] [ROUNDS] [sqlite|postgres] [LARGE]
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as Os from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import * as CryptoLive from "../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../src/layers/EntropyLive.js"
import * as Database from "../../src/layers/sql/Database.js"
import * as PgLive from "../../src/layers/sql/PgLive.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { measure } from "./load.js"
import { prepareDomain } from "./setup.js"
import { anchorSystem, oursSystem, pgSchema, type System } from "./systems.js"
import { combine, figuresOf, type Measured } from "./wire.js"

const [mode = "register", seconds = "2", rounds = "3", store = "sqlite", large = "1000000"] = process.argv.slice(2) as [
  string?,
  string?,
  string?,
  string?,
  string?
]
if (mode !== "lookup" && mode !== "register" && mode !== "scale") throw new Error("kind: lookup, register or scale")
const kind = mode === "scale" ? "lookup" : mode
if (store !== "sqlite" && store !== "postgres") throw new Error("store: sqlite or postgres")
const PG_URL = process.env.SIXCHAT_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const POPULATION = 1_000

const program = Effect.gen(function* () {
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(Os.tmpdir(), "sixchat-bench-irp-profile-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const dir = join(root, "domain")
  const { domain, identities, filler } = yield* prepareDomain(dir, 16)
  const at = (name: string) =>
    Effect.gen(function* () {
      if (store === "sqlite") {
        const path = join(root, name)
        return { db: `sqlite:${path}`, layer: Database.layer({ _tag: "Sqlite", path }) }
      }
      const url = yield* pgSchema(PG_URL)
      if (url === undefined) return yield* Effect.dieMessage(`PostgreSQL not reachable at ${PG_URL}`)
      return { db: url, layer: PgLive.layer(url, { maxConnections: 2 }) }
    })
  const a = yield* at(mode === "scale" ? "large.sqlite" : "anchor.sqlite")
  const o = yield* at("ours.sqlite")
  const anchor =
    mode === "scale"
      ? (yield* oursSystem("large", dir, a.db, a.layer, Number(large), identities, filler, domain.rootCertificate))
          .system
      : yield* anchorSystem("anchor", dir, a.db, a.layer, POPULATION, identities, filler)
  const ours = (yield* oursSystem("ours", dir, o.db, o.layer, POPULATION, identities, filler, domain.rootCertificate))
    .system
  const systems: ReadonlyArray<System> = [anchor, ours]
  const warmMs = mode === "scale" ? 12_000 : 1000
  for (const s of systems) yield* Effect.promise(() => measure(s.server, 16, s[kind], warmMs, 0))
  const slices = new Map<string, Array<Measured>>()
  for (let r = 0; r < Number(rounds); r++)
    for (const s of r % 2 === 0 ? systems : [...systems].reverse()) {
      const m = yield* Effect.promise(() => measure(s.server, 16, s[kind], Number(seconds) * 1000, 0))
      slices.set(s.name, [...(slices.get(s.name) ?? []), m])
    }
  const figures = Object.fromEntries(systems.map((s) => [s.name, figuresOf(combine(slices.get(s.name)!))]))
  // `scale`: large ÷ small (`scale_ratio`); otherwise ours ÷ anchor.
  const [num, den] = mode === "scale" ? [figures.large!, figures.ours!] : [figures.ours!, figures.anchor!]
  const ratio = Math.round((num.perSecond / den.perSecond) * 1000) / 1000
  return { mode, store, loadAverage: Os.loadavg().map((l) => Math.round(l * 100) / 100), ratio, ...figures }
}).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)))

Effect.runPromise(program).then(
  (out) => {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
    process.exit(0)
  },
  (e: unknown) => {
    process.stderr.write(`profile failed: ${String(e)}\n`)
    process.exit(1)
  }
)
