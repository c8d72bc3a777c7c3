/**
 * A focused run for the handshake's CPU (not a benchmark of record: `channel.ts` is): sequential or
 * concurrent full handshakes against one server process for 4 s after a warm-up (3 s unless told), printing the rate
 * and the CPU per handshake of the client (this process) and of the server.
 *
 *     node dist-bench/bench/hsSeq.js ours-node|tls [CONCURRENCY] [WARM_MS]
 */
import { makeContender } from "./contenders.js"
import { makeBenchPki, removePki, savePki } from "./pki.js"
import { ServerProcess } from "./processes.js"

const system = process.argv[2] as "ours-node" | "tls"
const concurrency = Number(process.argv[3] ?? "1")
const warmMs = Number(process.argv[4] ?? "3000")
const pki = makeBenchPki()
const server = await ServerProcess.start(system, savePki(pki), 1000)
const contender = await makeContender(system, server, pki)
await contender.handshakes(concurrency, warmMs)
const s0 = await contender.serverCpu()
const f0 = process.resourceUsage().minorPageFault
const c0 = process.cpuUsage()
const n = await contender.handshakes(concurrency, 4000)
const c1 = process.cpuUsage(c0)
const f1 = process.resourceUsage().minorPageFault
const s1 = await contender.serverCpu()
const per = (us: number) => (us / n.count).toFixed(0)
process.stderr.write(
  `${system} x${concurrency}: ${((n.count / n.ms) * 1000).toFixed(0)}/s, client ${per(c1.user + c1.system)} µs/hs (sys ${per(c1.system)}), server ${per(s1.user - s0.user + s1.system - s0.system)} µs/hs (sys ${per(s1.system - s0.system)}), page faults per handshake ${((f1 - f0) / n.count).toFixed(1)} + ${(((s1.minorFaults ?? 0) - (s0.minorFaults ?? 0)) / n.count).toFixed(1)}\n`
)
await server.stopAndWait()
removePki(pki)
process.exit(0)
