/**
 * `npm run bench:irp` (IRP issue section 6): in one run, lookups/s and registrations/s over 1 and 16
 * authenticated connections with p50/p99 latency, for SQLite and PostgreSQL, beside the anchor: a bare
 * request/response server on Node's TLS 1.3 with mutual auth answering each request with a fixed reply
 * (same certificates, same request and answer sizes, same concurrency). `lookup_ratio = ours / bare`.
 * Then lookups/s with 1,000,000 registered identities against 1,000 (the lookup cost must not grow with
 * the registry). Flags: `--json` (one JSON object on stdout), `--quick` (short runs, 100,000 identities).
 *
 * Servers run in their own processes (`irp/server.ts`), clients in this one; the machine's cores are
 * shared between the two, which is what limits the figures (see docs/BENCHMARKS.md).
 * PostgreSQL: `SIXCHAT_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`), a fresh schema
 * dropped afterwards; skipped with a note when unreachable.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { makeAddress } from "../domain/brands.js"
import { DeviceId, Seq } from "../domain/irp/registry.js"
import * as CryptoLive from "../layers/crypto/CryptoLive.js"
import * as EntropyLive from "../layers/EntropyLive.js"
import * as IrpClientLive from "../layers/irp/client/IrpClientLive.js"
import { migrate } from "../layers/irp/registry/migrations.js"
import * as Database from "../layers/sql/Database.js"
import * as PgLive from "../layers/sql/PgLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import type { IrpClient } from "../services/IrpClient.js"
import { connectBare, measure, promiseOf, type ServerProcess, spawnServer } from "./irp/load.js"
import { type BenchIdentity, documents, fillerHandle, populate, prepareDomain } from "./irp/setup.js"
import { type Figures, figuresOf, frameOf } from "./irp/wire.js"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")
const json = args.has("--json")
const SECONDS = quick ? 1.5 : 5
const WARMUP_SECONDS = quick ? 0.5 : 1
const CONCURRENCY = [1, 16] as const
const SMALL = 1_000
const LARGE = quick ? 100_000 : 1_000_000
const PG_URL = process.env.SIXCHAT_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const say = (line: string) => {
  if (!json) process.stderr.write(`${line}\n`)
}
const ms = (s: number) => s * 1000

type PerConcurrency = Record<`c${(typeof CONCURRENCY)[number]}`, Figures>

interface StorageResult {
  readonly lookup: PerConcurrency
  readonly register: PerConcurrency
  readonly scale: {
    readonly small: { readonly identities: number; readonly lookup: Figures }
    readonly large: { readonly identities: number; readonly lookup: Figures }
    readonly insertSeconds: number
  }
}

const base = Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)

/** Our server over `db`, measured: lookups and registrations at each concurrency, then at LARGE identities. */
const runOurs = (
  label: string,
  dir: string,
  db: string,
  dbLayer: Layer.Layer<SqlClient.SqlClient, unknown>,
  identities: ReadonlyArray<BenchIdentity>,
  filler: { readonly der: Uint8Array; readonly fingerprint: string },
  rootCertificate: Uint8Array
): Promise<StorageResult> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sql = Context.get(yield* Layer.build(dbLayer), SqlClient.SqlClient)
      const withSql = Effect.provideService(SqlClient.SqlClient, sql)
      yield* withSql(migrate)
      const now = Date.now()
      yield* withSql(populate({ from: 0, to: SMALL, ...filler, now }))
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => spawnServer(["ours", dir, db, "text"])),
        (s) => Effect.promise(() => s.stop())
      )
      const clients: Array<IrpClient> = yield* Effect.forEach(
        identities,
        (identity) =>
          IrpClientLive.connect({
            address: makeAddress("127.0.0.1", server.port),
            domain: "example.org",
            anchors: [rootCertificate],
            identity,
            requestTimeout: "60 seconds"
          }),
        { concurrency: 4 }
      )
      const lookups = (population: number) => (c: number) =>
        promiseOf(clients[c]!.lookup(fillerHandle(Math.floor(Math.random() * population))))
      const seqs = clients.map(() => BigInt(Date.now()) * 1000n)
      const registers = (c: number) => {
        seqs[c]! += 1n
        return promiseOf(
          clients[c]!.register({
            deviceId: DeviceId.make(`bench-${String(c).padStart(2, "0")}`),
            addresses: [{ host: "192.0.2.1", port: 4605 }] as never,
            ttlSeconds: 300,
            seq: Seq.make(seqs[c]!)
          })
        )
      }
      const run = (what: string, n: number, op: (c: number) => Promise<unknown>) =>
        Effect.promise(async () => {
          const f = figuresOf(
            await measure(server, n, (c) => op(c).then(() => undefined), ms(SECONDS), ms(WARMUP_SECONDS))
          )
          say(
            `  ${label} ${what} x${n}: ${f.perSecond}/s p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms (server ${f.serverCores} cores, client ${f.clientCores})`
          )
          return f
        })
      // The JIT and the caches first: a short warm-up per run is not enough for a cold server process.
      yield* Effect.promise(() =>
        measure(server, 16, (c) => lookups(SMALL)(c).then(() => undefined), ms(WARMUP_SECONDS * 3), 0)
      )
      const lookup = { c1: yield* run("lookup", 1, lookups(SMALL)), c16: yield* run("lookup", 16, lookups(SMALL)) }
      const register = { c1: yield* run("register", 1, registers), c16: yield* run("register", 16, registers) }
      // The registry's size, measured back to back: SMALL identities, then LARGE after a bulk insert.
      const small = yield* run(`lookup@${SMALL}`, 16, lookups(SMALL))
      say(`  ${label}: inserting ${LARGE - SMALL} more identities...`)
      const t0 = Date.now()
      yield* withSql(populate({ from: SMALL, to: LARGE, ...filler, now }))
      const insertSeconds = Math.round((Date.now() - t0) / 100) / 10
      say(`  ${label}: inserted in ${insertSeconds} s`)
      const large = yield* run(`lookup@${LARGE}`, 16, lookups(LARGE))
      const scale = {
        small: { identities: SMALL, lookup: small },
        large: { identities: LARGE, lookup: large },
        insertSeconds
      }
      return { lookup, register, scale }
    }).pipe(Effect.scoped, Effect.provide(base))
  )

/** The anchor: for each document pair, a bare TLS server with the fixed reply, at each concurrency. */
const runBare = async (
  dir: string,
  identities: ReadonlyArray<BenchIdentity>,
  pairs: Record<string, readonly [Uint8Array, Uint8Array]>
) => {
  const result: Record<string, PerConcurrency> = {}
  const caPem = readFileSync(join(dir, "ca.pem"), "utf8")
  for (const [name, [request, reply]] of Object.entries(pairs)) {
    const replyFile = join(dir, `bench-${name}.reply`)
    writeFileSync(replyFile, reply)
    const server: ServerProcess = await spawnServer(["bare", dir, replyFile])
    const conns = await Promise.all(identities.map((id) => connectBare(server.port, id, caPem, "irp.example.org")))
    const frame = frameOf(request)
    await measure(server, 16, (c) => conns[c]!.request(frame), ms(WARMUP_SECONDS * 3), 0)
    const figures = {} as Record<string, Figures>
    for (const n of CONCURRENCY) {
      const f = figuresOf(await measure(server, n, (c) => conns[c]!.request(frame), ms(SECONDS), ms(WARMUP_SECONDS)))
      say(
        `  bare ${name} x${n}: ${f.perSecond}/s p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms (server ${f.serverCores} cores, client ${f.clientCores})`
      )
      figures[`c${n}`] = f
    }
    for (const c of conns) c.close()
    await server.stop()
    result[name] = figures as PerConcurrency
  }
  return result as { lookup: PerConcurrency; register: PerConcurrency }
}

/** A fresh PostgreSQL schema (dropped by the returned cleanup), or why PostgreSQL is unavailable. */
const pgSchema = async (): Promise<{ url: string; drop: () => Promise<void> } | { skipped: string }> => {
  const scope = Effect.runSync(Scope.make())
  const schema = `sixchat_bench_${randomBytes(5).toString("hex")}`
  const admin = await Effect.runPromiseExit(
    Effect.gen(function* () {
      const sql = Context.get(
        yield* Layer.build(PgLive.layer(PG_URL, { maxConnections: 1, connectTimeout: "3 seconds" })),
        SqlClient.SqlClient
      )
      yield* sql.unsafe(`CREATE SCHEMA ${schema}`)
      yield* Scope.addFinalizer(scope, Effect.ignore(sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)))
    }).pipe(Scope.extend(scope))
  )
  if (Exit.isFailure(admin)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    return { skipped: `PostgreSQL not reachable at ${PG_URL}` }
  }
  return { url: PgLive.withSearchPath(PG_URL, schema)!, drop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000

const main = async () => {
  const root = mkdtempSync(join(Os.tmpdir(), "sixchat-bench-irp-"))
  try {
    const dir = join(root, "domain")
    const { domain, identities, filler } = await Effect.runPromise(prepareDomain(dir, 16))
    const docs = documents(domain, filler.der, Date.now())
    say(
      `IRP benchmark: ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up; documents: Lookup ${docs.lookup.length} B -> ${docs.lookupResult.length} B, Register ${docs.register.length} B -> ${docs.registered.length} B`
    )
    const bare = await runBare(dir, identities, {
      lookup: [docs.lookup, docs.lookupResult],
      register: [docs.register, docs.registered]
    })
    const sqlitePath = join(root, "bench.sqlite")
    const sqlite = await runOurs(
      "sqlite",
      dir,
      `sqlite:${sqlitePath}`,
      Database.layer({ _tag: "Sqlite", path: sqlitePath }),
      identities,
      filler,
      domain.rootCertificate
    )
    const pg = await pgSchema()
    const postgres =
      "skipped" in pg
        ? pg
        : await runOurs(
            "postgres",
            dir,
            pg.url,
            PgLive.layer(pg.url, { maxConnections: 2 }),
            identities,
            filler,
            domain.rootCertificate
          ).finally(pg.drop)
    const withRatios = (r: StorageResult) => ({
      ...r,
      lookup_ratio: {
        c1: ratio(r.lookup.c1.perSecond, bare.lookup.c1.perSecond),
        c16: ratio(r.lookup.c16.perSecond, bare.lookup.c16.perSecond)
      },
      register_ratio: {
        c1: ratio(r.register.c1.perSecond, bare.register.c1.perSecond),
        c16: ratio(r.register.c16.perSecond, bare.register.c16.perSecond)
      },
      scale_ratio: ratio(r.scale.large.lookup.perSecond, r.scale.small.lookup.perSecond)
    })
    const sqliteOut = withRatios(sqlite)
    const report = {
      machine: {
        cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
        cores: Os.availableParallelism(),
        node: process.version,
        openssl: process.versions.openssl,
        platform: `${Os.platform()} ${Os.release()} ${Os.arch()}`,
        loadAverage: Math.round(Os.loadavg()[0]! * 100) / 100
      },
      config: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, small: SMALL, large: LARGE, quick },
      documents: {
        lookup: docs.lookup.length,
        lookupResult: docs.lookupResult.length,
        register: docs.register.length,
        registered: docs.registered.length
      },
      bare,
      sqlite: sqliteOut,
      postgres: "skipped" in postgres ? postgres : withRatios(postgres),
      minimums: {
        sqlite_lookup_ratio_c16: {
          value: sqliteOut.lookup_ratio.c16,
          minimum: 0.3,
          ok: sqliteOut.lookup_ratio.c16 >= 0.3
        },
        sqlite_scale_ratio: { value: sqliteOut.scale_ratio, minimum: 0.8, ok: sqliteOut.scale_ratio >= 0.8 }
      }
    }
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`)
    else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:irp failed: ${String((e as Error)?.stack ?? e)}\n`)
    process.exit(1)
  }
)
