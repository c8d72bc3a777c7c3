/**
 * A short focused run for profiling the IRP server (not a benchmark of record: `../irp.ts` is): our
 * server and the same-work anchor over SQLite files (or PostgreSQL schemas, `postgres`) of 1,000
 * identities, 16 connections each, in alternating slices of one kind of request; prints the throughput
 * and the server CPU per request of both. `scale` instead: our server over 1,000 identities against our
 * server over LARGE (default 1,000,000), Lookups (`bench:irp`'s `scale_ratio`), after a 12 s warm-up each.
 * `scale-ab BASE_SERVER_JS`: the same with two builds at once, four servers in alternating slices (this build's
 * and BASE_SERVER_JS's, each at 1,000 and at LARGE over the same databases), so that both builds' ratios are
 * measured in the same period of a shared machine.
 * `register-ab BASE_SERVER_JS`: Register slices of three servers rotated, the anchor, the base build's server
 * (BASE_SERVER_JS) and this build's, each over its own SQLite file, with this build's clients: a server change
 * A/B in one period of a shared machine (each round's CPU per registration of the two builds, paired).
 * `SIXCHAT_BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=D"` profiles the server processes. PostgreSQL: `SIXCHAT_BENCH_PG_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`), fresh schemas dropped afterwards.
 *
 *     node dist-bench/bench/irp/profile.js lookup|register|scale [SECONDS] [ROUNDS] [sqlite|postgres] [LARGE]
 *     node dist-bench/bench/irp/profile.js register-ab|scale-ab SECONDS ROUNDS sqlite LARGE BASE_SERVER_JS
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
const baseServer = process.argv[7]
if (mode !== "lookup" && mode !== "register" && mode !== "scale" && mode !== "scale-ab" && mode !== "register-ab")
  throw new Error("kind: lookup, register, scale, scale-ab or register-ab")
const ab = mode === "scale-ab" || mode === "register-ab"
if (ab && baseServer === undefined) throw new Error(`${mode}: the base build's server.js last`)
const scale = mode === "scale" || mode === "scale-ab"
const kind = scale ? "lookup" : mode === "register-ab" ? "register" : mode
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
  const a = yield* at(scale ? "large.sqlite" : "anchor.sqlite")
  const o = yield* at("ours.sqlite")
  const anchor = scale
    ? (yield* oursSystem("large", dir, a.db, a.layer, Number(large), identities, filler, domain.rootCertificate)).system
    : yield* anchorSystem("anchor", dir, a.db, a.layer, POPULATION, identities, filler)
  const ours = (yield* oursSystem("ours", dir, o.db, o.layer, POPULATION, identities, filler, domain.rootCertificate))
    .system
  const base: Array<System> = []
  if (mode === "register-ab") {
    // The base build's server over a file of its own (filled here), with this build's clients.
    const b = yield* at("base.sqlite")
    process.env.SIXCHAT_BENCH_SERVER_JS = baseServer
    const oursBase = yield* oursSystem(
      "oursBase",
      dir,
      b.db,
      b.layer,
      POPULATION,
      identities,
      filler,
      domain.rootCertificate
    )
    delete process.env.SIXCHAT_BENCH_SERVER_JS
    base.push(oursBase.system)
  }
  if (mode === "scale-ab") {
    // The base build's servers over the same databases (already filled).
    process.env.SIXCHAT_BENCH_SERVER_JS = baseServer
    const largeBase = yield* oursSystem(
      "largeBase",
      dir,
      a.db,
      a.layer,
      Number(large),
      identities,
      filler,
      domain.rootCertificate,
      0,
      false
    )
    const oursBase = yield* oursSystem(
      "oursBase",
      dir,
      o.db,
      o.layer,
      POPULATION,
      identities,
      filler,
      domain.rootCertificate,
      0,
      false
    )
    delete process.env.SIXCHAT_BENCH_SERVER_JS
    // Order large, small, large, small: each large server follows a small one (nothing of its file warm).
    base.push(oursBase.system, largeBase.system)
  }
  const systems: ReadonlyArray<System> = [anchor, ...base, ours]
  const warmMs = scale ? 12_000 : 1000
  // Every operation each server answered, warm-up included (to divide a profile's totals by).
  const operations = new Map<string, number>()
  const count = (name: string, m: Measured) => operations.set(name, (operations.get(name) ?? 0) + m.operations)
  for (const s of systems) count(s.name, yield* Effect.promise(() => measure(s.server, 16, s[kind], warmMs, 0)))
  const slices = new Map<string, Array<Measured>>()
  for (let r = 0; r < Number(rounds); r++)
    // Two servers alternate, forward and back; four (scale-ab) rotate, so that no server runs two slices in
    // a row (the second would find the CPU's caches warm with its own data).
    for (const s of systems.length === 2
      ? r % 2 === 0
        ? systems
        : [...systems].reverse()
      : systems.map((_, i) => systems[(i + r) % systems.length]!)) {
      const m = yield* Effect.promise(() => measure(s.server, 16, s[kind], Number(seconds) * 1000, 0))
      slices.set(s.name, [...(slices.get(s.name) ?? []), m])
      count(s.name, m)
    }
  const figures = Object.fromEntries(systems.map((s) => [s.name, figuresOf(combine(slices.get(s.name)!))]))
  // `scale`: large ÷ small (`scale_ratio`); otherwise ours ÷ anchor.
  const [num, den] = scale ? [figures.large!, figures.ours!] : [figures.ours!, figures.anchor!]
  const ratio = Math.round((num.perSecond / den.perSecond) * 1000) / 1000
  // Per round, the servers' figures (scale-ab: this build's and the base's ratios per round, paired).
  const perRound =
    mode === "register-ab"
      ? Array.from({ length: Number(rounds) }, (_, r) => {
          const at = (name: string) => figuresOf(slices.get(name)![r]!)
          const pair = (name: string) => ({
            ratio: Math.round((at(name).perSecond / at("anchor").perSecond) * 1000) / 1000,
            cpuUs: [at(name).serverCpuUs, at(name).clientCpuUs]
          })
          return { branch: pair("ours"), base: pair("oursBase"), anchorCpuUs: at("anchor").serverCpuUs }
        })
      : mode === "scale-ab"
        ? Array.from({ length: Number(rounds) }, (_, r) => {
            const at = (name: string) => figuresOf(slices.get(name)![r]!)
            const pair = (l: string, s: string) => ({
              ratio: Math.round((at(l).perSecond / at(s).perSecond) * 1000) / 1000,
              cpuUs: [at(l).serverCpuUs, at(s).serverCpuUs]
            })
            return { branch: pair("large", "ours"), base: pair("largeBase", "oursBase") }
          })
        : undefined
  const baseRatio =
    mode === "scale-ab"
      ? Math.round((figures.largeBase!.perSecond / figures.oursBase!.perSecond) * 1000) / 1000
      : mode === "register-ab"
        ? Math.round((figures.oursBase!.perSecond / figures.anchor!.perSecond) * 1000) / 1000
        : undefined
  return {
    mode,
    store,
    loadAverage: Os.loadavg().map((l) => Math.round(l * 100) / 100),
    ratio,
    baseRatio,
    perRound,
    operations: Object.fromEntries(operations),
    ...figures
  }
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
