/**
 * The Lookup's read alone, at two registry sizes (issue 15, `scale_ratio`): for each population a fresh
 * SQLite file filled as `bench:irp` fills it (`setup.ts`'s `populate`), then, in alternating slices,
 * * `registry`: `IrpRegistry.currentIdentityNow` of the SQL registry over `Database.layer` (the server's
 *   path: `SyncReads`' statement and the row decoding), random handles of the population;
 * * `anchor`: the anchor's identity statement (`anchor.ts`: better-sqlite3, read-only, the same memory map),
 *   the same random handles.
 * * `answer`: the registry's read, the server's certificate copies (`certificateCopies.ts`, 4,096 serials)
 *   and the `<LookupResult>` document (`encodeIrp`): the part of a Lookup that depends on the registry's size
 *   in our process, without the channel;
 * * `answerBase` (with BASE_COPIES, another build's `certificateCopies.js`): the same with its copies. Both
 *   share this process's heap, so each pays for the other's garbage: a difference in what the copies keep
 *   alive does not show here (`copiesChurn.js` runs one build per process).
 * Prints CPU (user + system) per read, µs, per slice and the medians. Not a benchmark of record.
 *
 *     node dist-bench/bench/irp/lookupRead.js [POPULATIONS=1000,1000000] [SECONDS=2] [ROUNDS=3] [BASE_COPIES]
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import * as Os from "node:os"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import Sqlite from "better-sqlite3"
import { Context, Effect, Layer } from "effect"
import { encodeIrp } from "../../src/domain/irp/xml.js"
import { migrate } from "../../src/layers/irp/registry/migrations.js"
import * as SqlRegistry from "../../src/layers/irp/registry/SqlRegistry.js"
import { type CertificateCopies, makeCertificateCopies } from "../../src/layers/irp/server/certificateCopies.js"
import * as Database from "../../src/layers/sql/Database.js"
import { IrpRegistry } from "../../src/services/IrpRegistry.js"
import { populate, randomFillerHandle } from "./setup.js"

const [populationsArg = "1000,1000000", secondsArg = "2", roundsArg = "3", baseCopies] = process.argv.slice(2)
const populations = populationsArg.split(",").map(Number)
const SECONDS = Number(secondsArg)
const ROUNDS = Number(roundsArg)

/** The anchor's identity statement (`anchor.ts`, SQLite spelling). */
const ANCHOR_IDENTITY = `SELECT c.serial, c.handle, c.fingerprint, c.der, c.not_before, c.not_after, c.status, c.revoked_at,
          c.reason, b.device_id, b.addresses, b.observed, b.expires_at, CAST(b.seq AS TEXT) AS seq, b.updated_at
        FROM irp_certificates c LEFT JOIN irp_bindings b ON b.handle = c.handle AND b.expires_at > CAST(? AS BIGINT)
        WHERE c.serial = (SELECT serial FROM irp_certificates
          WHERE handle = CAST(? AS TEXT) AND status = 'good' AND not_after > CAST(? AS BIGINT)
          ORDER BY not_before DESC, serial DESC LIMIT 1)
        ORDER BY b.device_id`

/** CPU µs per call of `read` over `seconds`, random handles of `population`. */
const slice = (population: number, read: (handle: string, now: number) => unknown): number => {
  const now = Date.now()
  const handles = Array.from({ length: 4096 }, () => randomFillerHandle(population))
  const until = performance.now() + SECONDS * 1000
  const start = process.cpuUsage()
  let n = 0
  while (performance.now() < until) {
    for (let i = 0; i < 256; i++) {
      if (read(handles[n & 4095]!, now) === undefined) throw new Error("no identity read")
      n++
    }
  }
  const cpu = process.cpuUsage(start)
  return (cpu.user + cpu.system) / n
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round1 = (x: number) => Math.round(x * 10) / 10

const program = Effect.gen(function* () {
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(Os.tmpdir(), "sixchat-bench-irp-read-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const fillerDer = new Uint8Array(randomBytes(900))
  const out: Record<string, unknown> = {}
  for (const population of populations) {
    const path = join(root, `p${population}.sqlite`)
    const layer = Database.layer({ _tag: "Sqlite", path })
    const t0 = Date.now()
    yield* Effect.scoped(
      Effect.flatMap(Layer.build(layer), (context) =>
        Effect.provideService(
          Effect.zipRight(
            migrate,
            populate({ from: 0, to: population, der: fillerDer, fingerprint: "00".repeat(32), now: Date.now() })
          ),
          SqlClient.SqlClient,
          Context.get(context, SqlClient.SqlClient)
        )
      )
    )
    const fillSeconds = (Date.now() - t0) / 1000
    const figures = yield* Effect.scoped(
      Effect.gen(function* () {
        const registry = Context.get(
          yield* Layer.build(SqlRegistry.layer.pipe(Layer.provide(Database.layer({ _tag: "Sqlite", path })))),
          IrpRegistry
        )
        const readNow = registry.currentIdentityNow
        if (readNow === undefined) return yield* Effect.dieMessage("no synchronous read")
        const anchor = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const db = new Sqlite(path, { readonly: true, fileMustExist: true })
            db.pragma("mmap_size = 2147483648")
            return db
          }),
          (db) => Effect.sync(() => db.close())
        )
        const statement = anchor.prepare(ANCHOR_IDENTITY)
        // The server's answer: its certificate copies (as `IrpServerLive` makes them) and the document.
        const answerWith = (copies: CertificateCopies) => (handle: string, now: number) => {
          const read = readNow({ handle: handle as never, now })
          const current = read?.certificate
          if (current === undefined) return undefined
          return encodeIrp({
            _tag: "irp.LookupResult",
            id: "01HZY0000000000000000000AA" as never,
            handle: handle as never,
            status: "good",
            chain: [copies.shared(current.serial, current.der)],
            bindings: []
          })
        }
        const base =
          baseCopies === undefined
            ? undefined
            : ((yield* Effect.promise(() => import(baseCopies))) as {
                makeCertificateCopies: typeof makeCertificateCopies
              })
        const systems: Record<string, (handle: string, now: number) => unknown> = {
          registry: (handle, now) => readNow({ handle: handle as never, now }),
          anchor: (handle, now) => statement.all(now, handle, now)[0],
          answer: answerWith(makeCertificateCopies(4096)),
          ...(base === undefined ? {} : { answerBase: answerWith(base.makeCertificateCopies(4096)) })
        }
        // Warm-up: the JIT, and the memory map of the file (every page touched once by each connection).
        for (const read of Object.values(systems)) slice(population, read)
        const names = Object.keys(systems)
        const slices: Record<string, Array<number>> = Object.fromEntries(names.map((name) => [name, []]))
        for (let r = 0; r < ROUNDS; r++)
          for (const name of r % 2 === 0 ? names : [...names].reverse())
            slices[name]!.push(round1(slice(population, systems[name]!)))
        return Object.fromEntries(
          Object.entries(slices).map(([name, xs]) => [name, { median: median(xs), slices: xs }])
        )
      })
    )
    out[String(population)] = { fillSeconds, ...figures }
    rmSync(path, { force: true })
    rmSync(`${path}-wal`, { force: true })
    rmSync(`${path}-shm`, { force: true })
  }
  return { loadAverage: Os.loadavg().map((l) => Math.round(l * 100) / 100), cpuMicrosPerRead: out }
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  (out) => {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
    process.exit(0)
  },
  (e: unknown) => {
    process.stderr.write(`lookupRead failed: ${String(e)}\n`)
    process.exit(1)
  }
)
