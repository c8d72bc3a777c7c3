/**
 * A micro-benchmark of the registry's write path (issue 15): `IrpRegistry.register` of the SQLite registry
 * (`SqlRegistry` over `SqliteLive`: group commit, `SyncWrites`, change feed) against the anchor's write
 * (`anchor.ts`: the same statements through better-sqlite3, one transaction per event-loop turn), with
 * no channel, XML or sockets. 16 devices of 16 handles each keep one registration outstanding and send the
 * next one a turn of the event loop after the answer (as a socket's data event would). Prints the CPU
 * (user + system) per registration and the mean batch, alternating the two over the rounds.
 *
 *     node dist-bench/bench/irp/registerPath.js [REGISTRATIONS_PER_DEVICE] [ROUNDS]
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as Os from "node:os"
import { join } from "node:path"
import Sqlite from "better-sqlite3"
import { Context, Effect, Layer, Queue } from "effect"
import { Handle, makeAddress } from "../../src/domain/brands.js"
import { type Addresses, DeviceId, type Seq } from "../../src/domain/irp/registry.js"
import * as SqlRegistry from "../../src/layers/irp/registry/SqlRegistry.js"
import * as SqliteLive from "../../src/layers/sql/SqliteLive.js"
import { IrpRegistry } from "../../src/services/IrpRegistry.js"

const [perDevice = "2000", rounds = "4"] = process.argv.slice(2) as [string?, string?]
const DEVICES = 16
const handles = Array.from({ length: DEVICES }, (_, i) => Handle.make(`bench-${i}@example.org`))
const devices = handles.map((_, i) => DeviceId.make(`bench-${String(i).padStart(2, "0")}`))
const addresses = [makeAddress("192.0.2.1", 4605)] as unknown as Addresses
const observed = makeAddress("127.0.0.1", 50000)

const nextTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const cpuOf = async (run: () => Promise<void>) => {
  const before = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const cpu = process.cpuUsage(before)
  return { cpuUs: cpu.user + cpu.system, ms: performance.now() - t0 }
}

/** Our registry: one fiber per device. */
const ours = (file: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(file))))
    const registry = Context.get(context, IrpRegistry)
    // The server's two subscribers to the change feed (the watch hub and the revocation view) each take
    // every change; with nothing watched, neither does more with it.
    if (process.env.SUBSCRIBERS !== "0")
      for (let s = 0; s < 2; s++) {
        const changes = yield* registry.subscribe
        yield* Queue.take(changes).pipe(
          Effect.flatMap((change) => (change.kind === "certificate" ? Effect.logDebug("x") : Effect.void)),
          Effect.forever,
          Effect.forkScoped
        )
      }
    yield* registry.onChange({ changed: () => {}, lost: () => {} })
    const seqs = devices.map(() => BigInt(Date.now()))
    const device = (i: number, n: number): Effect.Effect<void, unknown> =>
      n === 0
        ? Effect.void
        : Effect.flatMap(
            registry.register({
              handle: handles[i]!,
              deviceId: devices[i]!,
              addresses,
              ttlSeconds: 300,
              seq: seqs[i]!++ as Seq,
              observed,
              now: Date.now()
            }),
            () => Effect.zipRight(nextTurn, device(i, n - 1))
          )
    return (n: number) =>
      Effect.runPromise(Effect.forEach(devices, (_, i) => device(i, n), { concurrency: "unbounded", discard: true }))
  })

/** The anchor's SQLite write (`anchor.ts`, `sqliteStore`), with callbacks. */
const anchor = (file: string) => {
  const writer = new Sqlite(file, { fileMustExist: true })
  writer.pragma("journal_mode = WAL")
  writer.pragma("synchronous = FULL")
  const count =
    writer.prepare(`SELECT COUNT(*) AS n FROM irp_bindings WHERE handle = CAST(? AS TEXT) AND device_id <> CAST(? AS TEXT)
    AND expires_at > CAST(? AS BIGINT)`)
  const upsert = writer.prepare(`INSERT INTO irp_bindings
    (handle, device_id, addresses, observed, expires_at, seq, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (handle, device_id) DO UPDATE SET addresses = excluded.addresses, observed = excluded.observed,
    expires_at = excluded.expires_at, seq = excluded.seq, updated_at = excluded.updated_at
    WHERE irp_bindings.seq < excluded.seq RETURNING device_id`)
  const bindings = writer.prepare(`SELECT device_id, addresses, observed, expires_at, CAST(seq AS TEXT) AS seq,
    updated_at FROM irp_bindings WHERE handle = CAST(? AS TEXT) AND expires_at > CAST(? AS BIGINT) ORDER BY device_id`)
  type Job = { readonly i: number; readonly seq: bigint; readonly reply: (a: string) => void }
  let queue: Array<Job> = []
  const one = ({ i, seq }: Job, now: number) => {
    const others = Number((count.get(handles[i], devices[i], now) as { n: number }).n)
    if (others >= 16) return "too_many_devices"
    const stored = upsert.all(
      handles[i],
      devices[i],
      JSON.stringify(addresses),
      JSON.stringify(observed),
      now + 300_000,
      seq,
      now
    )
    if (stored.length === 0) return "stale_sequence"
    return bindings.all(handles[i], now) as ReadonlyArray<Record<string, unknown>>
  }
  const flush = writer.transaction((jobs: ReadonlyArray<Job>, now: number) => jobs.map((job) => one(job, now)))
  let batches = 0
  const register = (job: Job) => {
    queue.push(job)
    if (queue.length > 1) return
    setImmediate(() => {
      const jobs = queue
      queue = []
      batches++
      const results = flush(jobs, Date.now())
      jobs.forEach((job, i) => {
        const r = results[i]!
        job.reply(
          JSON.stringify({
            bindings:
              typeof r === "string" ? r : r.map((row) => ({ ...row, addresses: JSON.parse(row.addresses as string) })),
            observed
          })
        )
      })
    })
  }
  const seqs = devices.map(() => BigInt(Date.now()))
  const run = (n: number) =>
    new Promise<void>((done) => {
      let left = DEVICES
      const device = (i: number, k: number) => {
        if (k === 0) {
          if (--left === 0) done()
          return
        }
        register({ i, seq: seqs[i]!++, reply: () => setImmediate(() => device(i, k - 1)) })
      }
      for (let i = 0; i < DEVICES; i++) device(i, n)
    })
  return { run, batches: () => batches, close: () => writer.close() }
}

const main = async () => {
  const dir = mkdtempSync(join(Os.tmpdir(), "sixchat-bench-register-path-"))
  try {
    const oursFile = join(dir, "ours.db")
    const anchorFile = join(dir, "anchor.db")
    // The anchor's file gets the registry's schema from a registry built once and closed.
    await Effect.runPromise(
      Effect.scoped(Layer.build(SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(anchorFile)))))
    )
    const a = anchor(anchorFile)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const o = yield* ours(oursFile)
          const n = Number(perDevice)
          const systems = { ours: () => o(n), anchor: () => a.run(n) }
          yield* Effect.promise(() => o(200))
          yield* Effect.promise(() => a.run(200))
          const results: Record<string, Array<number>> = { ours: [], anchor: [] }
          for (let r = 0; r < Number(rounds); r++) {
            const order = r % 2 === 0 ? (["ours", "anchor"] as const) : (["anchor", "ours"] as const)
            for (const name of order) {
              const before = a.batches()
              const { cpuUs } = yield* Effect.promise(() => cpuOf(systems[name]))
              const per = cpuUs / (n * DEVICES)
              results[name]!.push(Math.round(per * 10) / 10)
              if (name === "anchor")
                process.stderr.write(`anchor batch ${((n * DEVICES) / (a.batches() - before)).toFixed(1)}\n`)
            }
          }
          process.stdout.write(`${JSON.stringify({ cpuUsPerRegistration: results, load: Os.loadavg()[0] })}\n`)
        })
      )
    )
    a.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

void main()
