/**
 * CPU per ping-pong round trip, client and server process together, for our channel and node:tls
 * side by side (a profiling aid for issue 15, not a figure of the benchmark):
 * `node [--cpu-prof] dist-bench/bench/rttCpu.js [PINGS] [ROUNDS] [SYSTEMS]`, SYSTEMS a comma list
 * (default `ours-node,tls`). The servers are `server.js` children as in `channel.ts`
 * (`SIXCHAT_BENCH_SERVER_FLAGS=--cpu-prof` profiles them). Each round runs PINGS ping-pongs of the
 * benchmark's 100-byte `<Message>` per system over one connection and prints user + system CPU
 * per round trip of both processes on stderr, then the medians.
 */
import { median, runMain, type SystemName } from "./common.js"
import { withContenders } from "./contenders.js"

const pings = Number(process.argv[2] ?? 20000)
const rounds = Number(process.argv[3] ?? 5)
const systems = (process.argv[4] ?? "ours-node,tls").split(",") as Array<SystemName>

const cpuUs = (c: NodeJS.CpuUsage) => c.user + c.system

const main = (): Promise<void> =>
  withContenders(systems, async (contenders) => {
    // Warm-up: the JIT compiles the per-record path.
    for (const c of contenders) await c.pingPong(pings, 0)
    const perSystem = new Map<SystemName, Array<number>>(systems.map((s) => [s, []]))
    const p50s = new Map<SystemName, Array<number>>(systems.map((s) => [s, []]))
    for (let r = 0; r < rounds; r++) {
      const line: Array<string> = []
      for (const c of contenders) {
        const s0 = await c.serverCpu()
        const c0 = process.cpuUsage()
        const rtts = await c.pingPong(0, pings)
        const clientCpu = process.cpuUsage(c0)
        const client = cpuUs(clientCpu)
        const s1 = await c.serverCpu()
        const server = s1.user + s1.system - s0.user - s0.system
        const sys = (clientCpu.system + s1.system - s0.system) / pings
        const per = (client + server) / pings
        perSystem.get(c.system)!.push(per)
        p50s.get(c.system)!.push(median(rtts))
        line.push(
          `${c.system} ${per.toFixed(1)} µs (client ${(client / pings).toFixed(1)}, server ${(server / pings).toFixed(1)}; system ${sys.toFixed(1)}), p50 ${median(rtts).toFixed(1)} µs`
        )
      }
      process.stderr.write(`round ${r + 1}: ${line.join(" | ")}\n`)
    }
    for (const s of systems)
      process.stderr.write(
        `median ${s}: ${median(perSystem.get(s)!).toFixed(1)} µs CPU per round trip, p50 ${median(p50s.get(s)!).toFixed(1)} µs\n`
      )
  })

runMain("rttCpu", main)
