/**
 * CPU per MiB of the benchmark's bulk transfer, client and server process apart, for our channel and
 * node:tls side by side (a profiling aid for issue 15, not a figure of the benchmark):
 * `node [--cpu-prof] dist-bench/bench/bulkCpu.js [MIB] [ROUNDS] [SYSTEMS]`, SYSTEMS a comma list
 * (default `ours-node,tls`). The servers are `server.js` children as in `channel.ts`
 * (`SIXCHAT_BENCH_SERVER_FLAGS=--cpu-prof` profiles them). Each round sends MIB MiB per system over
 * one connection (`Contender.bulk`, as the benchmark does) and prints the CPU per MiB of the sender
 * (client) and the receiver (server) on stderr, then the medians.
 */
import { median, runMain, type SystemName } from "./common.js"
import { withContenders } from "./contenders.js"

const mib = Number(process.argv[2] ?? 64)
const rounds = Number(process.argv[3] ?? 5)
const systems = (process.argv[4] ?? "ours-node,tls").split(",") as Array<SystemName>

const MiB = 1024 * 1024

const main = (): Promise<void> =>
  withContenders(systems, async (contenders) => {
    // Warm-up: the JIT compiles the per-record path.
    for (const c of contenders) await c.bulk(mib * MiB)
    const total = new Map<SystemName, Array<number>>(systems.map((s) => [s, []]))
    const faults = new Map<SystemName, Array<number>>(systems.map((s) => [s, []]))
    const mbps = new Map<SystemName, Array<number>>(systems.map((s) => [s, []]))
    for (let r = 0; r < rounds; r++) {
      const line: Array<string> = []
      for (const c of contenders) {
        const s0 = await c.serverCpu()
        const f0 = process.resourceUsage().minorPageFault
        const c0 = process.cpuUsage()
        const res = await c.bulk(mib * MiB)
        const cc = process.cpuUsage(c0)
        const clientFaults = (process.resourceUsage().minorPageFault - f0) / mib
        const s1 = await c.serverCpu()
        const serverFaults = ((s1.minorFaults ?? 0) - (s0.minorFaults ?? 0)) / mib
        const client = (cc.user + cc.system) / 1000 / mib
        const server = (s1.user + s1.system - s0.user - s0.system) / 1000 / mib
        const rate = res.bytes / 1e6 / (res.ms / 1000)
        total.get(c.system)!.push(client + server)
        faults.get(c.system)!.push(clientFaults + serverFaults)
        mbps.get(c.system)!.push(rate)
        line.push(
          `${c.system} ${(client + server).toFixed(2)} ms/MiB (sender ${client.toFixed(2)}, receiver ${server.toFixed(2)}; sys ${(cc.system / 1000 / mib).toFixed(2)} + ${((s1.system - s0.system) / 1000 / mib).toFixed(2)}; page faults per MiB ${clientFaults.toFixed(0)} + ${serverFaults.toFixed(0)}), ${rate.toFixed(0)} MB/s`
        )
      }
      process.stderr.write(`round ${r + 1}: ${line.join(" | ")}\n`)
    }
    for (const s of systems)
      process.stderr.write(
        `median ${s}: ${median(total.get(s)!).toFixed(2)} ms CPU per MiB, ${median(faults.get(s)!).toFixed(0)} page faults per MiB, ${median(mbps.get(s)!).toFixed(0)} MB/s\n`
      )
  })

runMain("bulkCpu", main)
