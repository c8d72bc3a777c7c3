/**
 * A focused run for the IRP client's CPU (not a benchmark of record: `../irp.ts` is): our server over a
 * SQLite file of 1,000 identities, 16 of our `IrpClientLive` connections in this process, each keeping one
 * request outstanding; prints the client CPU per request (this process) and the server's. With
 * `--profile DIR` it writes a CPU profile of this process over the measured slices only (no set-up).
 *
 *     node dist-bench/bench/irp/client.js lookup|register [SECONDS] [ROUNDS] [--profile DIR]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import * as Os from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import * as CryptoLive from "../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../src/layers/EntropyLive.js"
import * as Database from "../../src/layers/sql/Database.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { measure } from "./load.js"
import { prepareDomain } from "./setup.js"
import { oursSystem } from "./systems.js"
import { combine, figuresOf, type Measured } from "./wire.js"

const args = process.argv.slice(2)
const profileAt = args.indexOf("--profile")
const profileDir = profileAt < 0 ? undefined : args[profileAt + 1]
// SIXCHAT_BENCH_HEAP=1 with --profile: a sampling allocation profile (collected objects included) instead.
const heap = process.env.SIXCHAT_BENCH_HEAP === "1"
const [kind = "lookup", seconds = "2", rounds = "3"] = (
  profileAt < 0 ? args : args.filter((_, i) => i !== profileAt && i !== profileAt + 1)
) as [string?, string?, string?]
if (kind !== "lookup" && kind !== "register") throw new Error("kind: lookup or register")
const POPULATION = 1_000

const program = Effect.gen(function* () {
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(Os.tmpdir(), "sixchat-bench-irp-client-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const dir = join(root, "domain")
  const { domain, identities, filler } = yield* prepareDomain(dir, 16)
  const path = join(root, "ours.sqlite")
  const layer = Database.layer({ _tag: "Sqlite", path })
  const ours = (yield* oursSystem(
    "ours",
    dir,
    `sqlite:${path}`,
    layer,
    POPULATION,
    identities,
    filler,
    domain.rootCertificate
  )).system
  yield* Effect.promise(() => measure(ours.server, 16, ours[kind], 1000, 0))
  const session = new Session()
  if (profileDir !== undefined) {
    session.connect()
    if (heap)
      yield* Effect.promise(() =>
        session.post("HeapProfiler.startSampling", {
          samplingInterval: 4096,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true
        } as never)
      )
    else {
      yield* Effect.promise(() => session.post("Profiler.enable"))
      yield* Effect.promise(() => session.post("Profiler.start"))
    }
  }
  const slices: Array<Measured> = []
  for (let r = 0; r < Number(rounds); r++)
    slices.push(yield* Effect.promise(() => measure(ours.server, 16, ours[kind], Number(seconds) * 1000, 0)))
  if (profileDir !== undefined) {
    const { profile } = heap
      ? yield* Effect.promise(() => session.post("HeapProfiler.stopSampling"))
      : yield* Effect.promise(() => session.post("Profiler.stop"))
    const suffix = heap ? "heapprofile" : "cpuprofile"
    writeFileSync(join(profileDir, `client-${kind}-${process.pid}.${suffix}`), JSON.stringify(profile))
    session.disconnect()
  }
  return { kind, loadAverage: Os.loadavg().map((l) => Math.round(l * 100) / 100), ...figuresOf(combine(slices)) }
}).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)))

Effect.runPromise(program).then(
  (out) => {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
    process.exit(0)
  },
  (e: unknown) => {
    process.stderr.write(`client bench failed: ${String(e)}\n`)
    process.exit(1)
  }
)
