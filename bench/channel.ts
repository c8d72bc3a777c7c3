/**
 * `npm run bench` — the secure channel against Node's own TLS 1.3 and plain TCP, side by side in
 * one run, on loopback, with the same ECDSA P-256 certificates (issue 2 section 6).
 *
 *   node --expose-gc dist-bench/bench/channel.js [--quick] [--json]
 *
 * Set-up: every system's server runs in its own child process (`server.js`); this process runs
 * every client. Client and server CPU time are thus each process's own, and both systems get the
 * same two processes. After a warm-up of every system, each figure is measured in rounds of short
 * slices, the systems in a different order each round, so that interference from other work on a
 * shared machine falls on all of them alike: handshake slices are summed, bulk runs give their
 * median, ping samples are pooled. Idle memory is measured in a fresh process per system
 * (`memory.js`).
 */
import { median, percentile, runMain, SYSTEMS, type SystemName } from "./common.js"
import { type Contender, makeContender } from "./contenders.js"
import { machine } from "./machine.js"
import { makeBenchPki, removePki, savePki } from "./pki.js"
import { type CpuTime, measureMemory, ServerProcess } from "./processes.js"
import { printTable, type Results, type SystemFigures, toJson } from "./report.js"
import { sanityChecks } from "./sanity.js"

const args = new Set(process.argv.slice(2))
const quick = args.has("--quick")
const json = args.has("--json")

const MiB = 1024 * 1024
/**
 * Quick: about a minute on 2 cores. Full: a few minutes. Every system is warmed up for at least
 * `minWarmMs` and until its handshake cost settles, within `warmHandshakeMs` (our channel's JIT needs
 * seconds of handshakes, more on a busy machine, where the optimising compiler's thread shares the
 * cores: measured, 15 s of warm-up cut our CPU per handshake by ~35 % against 3 s, node:tls's by ~5 %;
 * docs/BENCHMARKS.md), then measured in interleaved slices.
 */
const plan = quick
  ? {
      rounds: 3,
      minWarmMs: 4000,
      warmHandshakeMs: 16_000,
      warmSliceMs: 750,
      handshakeMs: 500,
      warmBulkBytes: 16 * MiB,
      bulkBytes: 64 * MiB,
      bulkBytesNoble: 8 * MiB,
      warmPings: 2000,
      pings: 1000,
      idle: 200
    }
  : {
      rounds: 5,
      minWarmMs: 8000,
      warmHandshakeMs: 24_000,
      warmSliceMs: 1000,
      handshakeMs: 2000,
      warmBulkBytes: 64 * MiB,
      bulkBytes: 256 * MiB,
      bulkBytesNoble: 32 * MiB,
      warmPings: 5000,
      pings: 5000,
      idle: 1000
    }
const CONCURRENCY = 16

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

const cpuNow = (): CpuTime => {
  const c = process.cpuUsage()
  return { user: c.user, system: c.system }
}
const cpuSpent = (a: CpuTime, b: CpuTime): number => b.user - a.user + (b.system - a.system)

/** What the rounds add up, per system. */
interface Accumulated {
  readonly sequential: { count: number; ms: number; cpuUs: number }
  readonly concurrent: { count: number; ms: number; cpuUs: number }
  readonly bulkMBps: Array<number>
  readonly rttUs: Array<number>
}
const emptyAccumulated = (): Accumulated => ({
  sequential: { count: 0, ms: 0, cpuUs: 0 },
  concurrent: { count: 0, ms: 0, cpuUs: 0 },
  bulkMBps: [],
  rttUs: []
})

const main = async (): Promise<void> => {
  const started = performance.now()
  const host = machine()
  const pki = makeBenchPki()
  const pkiPath = savePki(pki)
  const servers = new Map<SystemName, ServerProcess>()
  try {
    for (const system of SYSTEMS) servers.set(system, await ServerProcess.start(system, pkiPath, 0))
    const contenders = new Map<SystemName, Contender>()
    for (const system of SYSTEMS) contenders.set(system, await makeContender(system, servers.get(system)!, pki))

    const sanity = await sanityChecks(pki, servers.get("tls")!.port, servers.get("ours-node")!.port)
    progress(`sanity: ${sanity.summary}`)

    const acc = new Map<SystemName, Accumulated>()
    for (const s of SYSTEMS) acc.set(s, emptyAccumulated())
    const bulkBytes = (s: SystemName) => (s === "ours-noble" ? plan.bulkBytesNoble : plan.bulkBytes)

    /** CPU time (both processes) per handshake over one slice of sequential handshakes. */
    const handshakeSlice = async (c: Contender, ms: number) => {
      const [c0, s0] = [cpuNow(), await c.serverCpu()]
      const r = await c.handshakes(1, ms)
      const [c1, s1] = [cpuNow(), await c.serverCpu()]
      return (cpuSpent(c0, c1) + cpuSpent(s0, s1)) / Math.max(1, r.count)
    }

    for (const s of SYSTEMS) {
      const c = contenders.get(s)!
      // Warm up for at least `minWarmMs` and until the CPU cost of a handshake has not fallen for three
      // slices (our channel is JavaScript: the JIT needs seconds of handshakes, more on a loaded machine;
      // node:tls and TCP settle at once), within `warmHandshakeMs`; the same rule for every system. Then
      // the other paths.
      const started = performance.now()
      let previous = Number.POSITIVE_INFINITY
      let steady = 0
      let slices = 0
      const elapsed = () => performance.now() - started
      while ((steady < 3 || elapsed() < plan.minWarmMs) && elapsed() < plan.warmHandshakeMs) {
        const cost = await handshakeSlice(c, plan.warmSliceMs)
        steady = cost > previous * 0.95 ? steady + 1 : 0
        previous = Math.min(previous, cost)
        slices++
      }
      progress(`warm-up: ${s}, ${slices} slices of handshakes, ${Math.round(previous)} us CPU each`)
      await c.handshakes(CONCURRENCY, plan.warmSliceMs)
      await c.bulk(s === "ours-noble" ? plan.bulkBytesNoble / 4 : plan.warmBulkBytes)
      await c.pingPong(plan.warmPings, 0)
    }

    for (let round = 0; round < plan.rounds; round++) {
      // A different order each round, so no system always runs first or right after another.
      const order = SYSTEMS.map((_, i) => SYSTEMS[(i + round) % SYSTEMS.length]!)
      progress(`round ${round + 1}/${plan.rounds}: ${order.join(", ")}`)
      for (const concurrency of [1, CONCURRENCY]) {
        for (const s of order) {
          const c = contenders.get(s)!
          const [c0, s0] = [cpuNow(), await c.serverCpu()]
          const r = await c.handshakes(concurrency, plan.handshakeMs)
          const [c1, s1] = [cpuNow(), await c.serverCpu()]
          const a = acc.get(s)!
          const slot = concurrency === 1 ? a.sequential : a.concurrent
          slot.count += r.count
          slot.ms += r.ms
          slot.cpuUs += cpuSpent(c0, c1) + cpuSpent(s0, s1)
        }
      }
      for (const s of order) {
        const r = await contenders.get(s)!.bulk(bulkBytes(s))
        acc.get(s)!.bulkMBps.push(r.bytes / 1e6 / (r.ms / 1000))
      }
      for (const s of order) acc.get(s)!.rttUs.push(...(await contenders.get(s)!.pingPong(plan.pings / 10, plan.pings)))
    }

    const serverStats = new Map<SystemName, { handshakes: number; failures: number; lastError: string }>()
    for (const [s, srv] of servers) serverStats.set(s, await srv.stats())
    for (const srv of servers.values()) srv.stop()
    servers.clear()

    const memory = new Map<SystemName, Awaited<ReturnType<typeof measureMemory>>>()
    for (const s of SYSTEMS) {
      progress(`idle memory: ${s}, ${plan.idle} connections`)
      memory.set(s, await measureMemory(s, pkiPath, plan.idle))
    }

    const figures = {} as Record<SystemName, SystemFigures>
    for (const s of SYSTEMS) {
      const a = acc.get(s)!
      const m = memory.get(s)!
      figures[s] = {
        handshakesSeq: (a.sequential.count * 1000) / a.sequential.ms,
        handshakes16: (a.concurrent.count * 1000) / a.concurrent.ms,
        cpuPerHandshakeUs: a.sequential.cpuUs / a.sequential.count,
        bulkMBps: median(a.bulkMBps),
        rttP50Us: percentile(a.rttUs, 0.5),
        rttP99Us: percentile(a.rttUs, 0.99),
        idleRssKiB: m.rssKiB,
        idleHeapKiB: m.heapKiB,
        idleExternalKiB: m.externalKiB
      }
    }
    const results: Results = {
      mode: quick ? "quick" : "full",
      machine: host,
      plan: { ...plan, concurrency: CONCURRENCY },
      figures,
      sanity,
      serverStats: Object.fromEntries(serverStats),
      seconds: (performance.now() - started) / 1000
    }
    if (json) process.stdout.write(`${JSON.stringify(toJson(results))}\n`)
    else printTable(results)
  } finally {
    for (const srv of servers.values()) srv.stop()
    removePki(pki)
  }
}

runMain("bench", main)
