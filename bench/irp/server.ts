/**
 * The IRP benchmark's server process, started by `bench/irp.ts` with an IPC channel:
 *
 * * `node dist-bench/bench/irp/server.js ours DIR DB LOG [CACHE]`: our IRP server (`IrpServerLive`) for the domain in
 *   DIR over DB (`sqlite:PATH` or a PostgreSQL URL), rate limits raised out of the way, its request log
 *   (`LOG` = `text` or `off`) written to stderr as `irp serve` does;
 * * `node dist-bench/bench/irp/server.js floor DIR DB`: the floor of this design (`floor.ts`): Lookups answered from
 *   the registry over DB (`sqlite:PATH`) by plain callbacks, with only the protocol's own per-request work;
 * * `node dist-bench/bench/irp/server.js anchor DIR DB`: the same-work anchor (`anchor.ts`): Node's TLS 1.3 with
 *   mutual auth doing our server's Lookup and Register work over DB with plain callbacks, answering JSON;
 *
 * All listen on 127.0.0.1 (port chosen by the OS), report `{ type: "ready", port }`, answer `cpu` with
 * their CPU time so far, and exit when the parent disconnects. Each runs alone in its process so that its
 * CPU time is its own and client and server can use both cores.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Inspector from "node:inspector"
import { Context, Duration, Effect, Layer, Logger, Scope } from "effect"
import * as ServerLog from "../../src/cli/serverLog.js"
import { makeAddress } from "../../src/domain/brands.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import * as CertificateAuthorityLive from "../../src/layers/ca/CertificateAuthority.js"
import { CertificateAuthority } from "../../src/layers/ca/CertificateAuthority.js"
import { loadDomain } from "../../src/layers/ca/DomainDirectory.js"
import * as CryptoLive from "../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../src/layers/EntropyLive.js"
import * as SqlRegistry from "../../src/layers/irp/registry/SqlRegistry.js"
import * as IrpServerLive from "../../src/layers/irp/server/IrpServerLive.js"
import * as Database from "../../src/layers/sql/Database.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { IrpRegistry } from "../../src/services/IrpRegistry.js"
import { anchorServer } from "./anchor.js"
import { floorServer } from "./floor.js"
import type { FromServer, ToServer } from "./wire.js"

const send = (message: FromServer): void => {
  process.send?.(message)
}

/** Limits no benchmark client reaches: the bench measures the server, not its rate limiter. */
export const BENCH_POLICY: Partial<IrpServerLive.IrpServerPolicy> = {
  rateLimits: {
    anonymous: { burst: 1e9, perSecond: 1e9 },
    authenticated: { burst: 1e9, perSecond: 1e9 },
    maxTrackedKeys: 100_000
  },
  revocationRefresh: Duration.hours(1),
  // For profiling the database path alone: SIXCHAT_BENCH_LOOKUP_CACHE=0 turns the answer cache off.
  ...(process.env.SIXCHAT_BENCH_LOOKUP_CACHE === undefined
    ? {}
    : { lookupCacheEntries: Number(process.env.SIXCHAT_BENCH_LOOKUP_CACHE) })
}

const ours = (dir: string, db: string, log: string, cache: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const spec = Database.parseDatabaseSpec(db)
    if (spec === undefined) return reject(new Error(`not a database: ${db}`))
    const program = Effect.gen(function* () {
      const domain = yield* loadDomain(dir)
      const registry = Context.get(
        yield* Layer.build(SqlRegistry.layer.pipe(Layer.provide(Database.layer(spec)))),
        IrpRegistry
      )
      const ca = yield* CertificateAuthorityLive.make(domain)
      const server = yield* IrpServerLive.make({
        domain,
        listen: [makeAddress("127.0.0.1", 0)],
        policy: cache > 0 ? { ...BENCH_POLICY, lookupCacheEntries: cache } : BENCH_POLICY
      }).pipe(
        Effect.provideService(IrpRegistry, registry),
        Effect.provideService(CertificateAuthority, ca),
        Effect.provide(CertVerifierLive.layer({ anchors: [domain.rootCertificate] }))
      )
      resolve(server.addresses[0]!.port)
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)),
      Effect.provide(log === "off" ? Logger.remove(Logger.defaultLogger) : ServerLog.layer("text"))
    )
    Effect.runPromise(program).catch(reject)
  })

const floor = (dir: string, db: string): Promise<number> => {
  const spec = Database.parseDatabaseSpec(db)
  if (spec === undefined) return Promise.reject(new Error(`not a database: ${db}`))
  const program = Effect.gen(function* () {
    const domain = yield* loadDomain(dir)
    const registry = Context.get(
      yield* Layer.build(SqlRegistry.layer.pipe(Layer.provide(Database.layer(spec)))),
      IrpRegistry
    )
    return yield* Effect.promise(() => floorServer(registry, domain.issuer.chain))
  })
  // The scope stays open (the registry's connections with it) until the process exits.
  return Effect.runPromise(
    Effect.provide(
      Effect.flatMap(Scope.make(), (scope) => Scope.extend(program, scope)),
      CryptoLive.layerNode
    )
  )
}

const anchor = (dir: string, db: string): Promise<number> =>
  Effect.runPromise(loadDomain(dir)).then((domain) => anchorServer(dir, db, domain.issuer.chain))

/** Context switches of the process so far (voluntary + involuntary, from /proc on Linux). */
const switches = (): number => {
  try {
    const status = readFileSync("/proc/self/status", "latin1")
    let n = 0
    for (const m of status.matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1])
    return n
  } catch {
    return -1
  }
}

/** CPU ticks (1/100 s) by thread name from /proc (Linux): the main thread against the others (V8's compiler and GC threads, libuv's pool). */
const threadTicks = (): string => {
  const by = new Map<string, number>()
  try {
    for (const task of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, "latin1")
      const name = `${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}${task === String(process.pid) ? "-main" : ""}`
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      by.set(name, (by.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]))
    }
  } catch {
    return "-"
  }
  return [...by].map(([name, ticks]) => `${name.replace(/\s+/g, "_")}=${ticks}`).join(",")
}

/**
 * `SIXCHAT_BENCH_SLICE_PROFILES=DIR`: a CPU profile of every measured slice (a CPU reading starts one, the
 * next ends it), `DIR/<mode>-<pid>-<n>-<start ms>.cpuprofile`: a slice of a quick run against one of a full
 * run, which `--cpu-prof` (the whole process) cannot tell apart. With `SIXCHAT_BENCH_HEAP=1` a sampling
 * allocation profile of each slice instead (`.heapprofile`, collected objects included): bytes allocated
 * per request, and by what.
 */
const sliceProfiler = (): (() => void) | undefined => {
  const dir = process.env.SIXCHAT_BENCH_SLICE_PROFILES
  if (dir === undefined) return undefined
  const heap = process.env.SIXCHAT_BENCH_HEAP === "1"
  const session = new Inspector.Session()
  session.connect()
  let n = 0
  let started = 0
  const write = (suffix: string, profile: unknown) =>
    writeFileSync(`${dir}/${process.argv[2]}-${process.pid}-${n / 2}-${started}.${suffix}`, JSON.stringify(profile))
  return () => {
    n++
    if (n % 2 === 1) {
      started = Date.now()
      if (heap)
        session.post("HeapProfiler.startSampling", {
          samplingInterval: 4096,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true
        } as never)
      else session.post("Profiler.enable", () => session.post("Profiler.start"))
    } else if (heap)
      session.post("HeapProfiler.stopSampling", (error, result) => {
        if (error === null) write("heapprofile", result.profile)
      })
    else
      session.post("Profiler.stop", (error, result) => {
        if (error === null) write("cpuprofile", result.profile)
      })
  }
}

const main = async (): Promise<void> => {
  const [mode, dir, arg, log, cache] = process.argv.slice(2) as [string, string, string, string?, string?]
  const port =
    mode === "ours"
      ? await ours(dir, arg, log ?? "off", Number(cache ?? 0))
      : mode === "floor"
        ? await floor(dir, arg)
        : mode === "anchor"
          ? await anchor(dir, arg)
          : await Promise.reject(new Error(`unknown server mode ${mode}: ours, floor or anchor`))
  const slices = sliceProfiler()
  process.on("message", (m: ToServer) => {
    if (m.type === "cpu") {
      const cpu = process.cpuUsage()
      // With SIXCHAT_BENCH_SERVER_OUT, marks each CPU reading (a slice's start or end) among `--trace-gc` lines,
      // with the process's page faults so far (minor: mapped from memory; major: read from disk), to tell a
      // slice that fills in a large file's memory map from one that reads pages already mapped (issue 15).
      if (process.env.SIXCHAT_BENCH_SERVER_OUT !== undefined) {
        const usage = process.resourceUsage()
        process.stdout.write(
          `[mark] cpu ${Date.now()} ms ${cpu.user + cpu.system} us user ${cpu.user} system ${cpu.system} switches ${switches()} threads ${threadTicks()} faults ${usage.minorPageFault} major ${usage.majorPageFault}\n`
        )
      }
      slices?.()
      send({ type: "cpu", micros: cpu.user + cpu.system })
    }
  })
  process.on("disconnect", () => process.exit(0))
  send({ type: "ready", port })
}

main().catch((e: unknown) => {
  send({ type: "error", message: String((e as Error)?.stack ?? e) })
  process.exit(1)
})
