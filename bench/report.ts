/**
 * The benchmark's output: a readable table (each figure, the anchor's, the ratio) or one JSON object.
 */
import type { SystemName } from "./common.js"
import type { Machine } from "./machine.js"
import type { Sanity } from "./sanity.js"

export interface SystemFigures {
  readonly handshakesSeq: number
  readonly handshakes16: number
  /** Client + server CPU time per sequential handshake, microseconds. */
  readonly cpuPerHandshakeUs: number
  readonly bulkMBps: number
  readonly rttP50Us: number
  readonly rttP99Us: number
  /** Per idle connection pair (both ends), KiB. */
  readonly idleRssKiB: number
  readonly idleHeapKiB: number
  readonly idleExternalKiB: number
}

export interface Results {
  readonly mode: "quick" | "full"
  readonly machine: Machine
  readonly plan: Record<string, number>
  readonly figures: Record<SystemName, SystemFigures>
  readonly sanity: Sanity
  readonly serverStats: Record<string, { handshakes: number; failures: number; lastError: string }>
  readonly seconds: number
}

/** Minimums of issue 2 for the default provider: ratio ours/node:tls and whether more is better. */
const MINIMUMS = {
  handshake_ratio: { limit: 1.0, higherIsBetter: true },
  bulk_ratio: { limit: 0.5, higherIsBetter: true },
  rtt_p50_ratio: { limit: 3.0, higherIsBetter: false },
  idle_memory_ratio: { limit: 1.0, higherIsBetter: false }
} as const

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits

const ratiosOf = (ours: SystemFigures, tls: SystemFigures) => {
  const seq = ours.handshakesSeq / tls.handshakesSeq
  const conc = ours.handshakes16 / tls.handshakes16
  return {
    // The weaker of the two handshake figures is the headline.
    handshake_ratio: round(Math.min(seq, conc)),
    handshake_seq_ratio: round(seq),
    handshake_16_ratio: round(conc),
    cpu_per_handshake_ratio: round(ours.cpuPerHandshakeUs / tls.cpuPerHandshakeUs),
    bulk_ratio: round(ours.bulkMBps / tls.bulkMBps),
    rtt_p50_ratio: round(ours.rttP50Us / tls.rttP50Us),
    rtt_p99_ratio: round(ours.rttP99Us / tls.rttP99Us),
    idle_memory_ratio: round(ours.idleRssKiB / tls.idleRssKiB),
    idle_heap_ratio: round(ours.idleHeapKiB / tls.idleHeapKiB)
  }
}

const verdicts = (ratios: ReturnType<typeof ratiosOf>) =>
  Object.fromEntries(
    Object.entries(MINIMUMS).map(([k, m]) => {
      const r = ratios[k as keyof typeof MINIMUMS]
      return [k, { ratio: r, limit: m.limit, pass: m.higherIsBetter ? r >= m.limit : r <= m.limit }]
    })
  ) as Record<keyof typeof MINIMUMS, { ratio: number; limit: number; pass: boolean }>

const rawOf = (f: SystemFigures) => ({
  handshakes_per_s_sequential: round(f.handshakesSeq, 1),
  handshakes_per_s_16: round(f.handshakes16, 1),
  cpu_us_per_handshake: round(f.cpuPerHandshakeUs, 0),
  bulk_mb_per_s: round(f.bulkMBps, 1),
  rtt_p50_us: round(f.rttP50Us, 1),
  rtt_p99_us: round(f.rttP99Us, 1),
  idle_rss_kib: round(f.idleRssKiB, 2),
  idle_heap_kib: round(f.idleHeapKiB, 2),
  idle_external_kib: round(f.idleExternalKiB, 2)
})

export const toJson = (r: Results) => {
  const tls = r.figures.tls
  const node = ratiosOf(r.figures["ours-node"], tls)
  return {
    mode: r.mode,
    ...node,
    minimums: verdicts(node),
    noble: ratiosOf(r.figures["ours-noble"], tls),
    raw: {
      "ours-node": rawOf(r.figures["ours-node"]),
      "ours-noble": rawOf(r.figures["ours-noble"]),
      "node:tls": rawOf(tls),
      tcp: rawOf(r.figures.tcp)
    },
    machine: r.machine,
    plan: r.plan,
    sanity: r.sanity,
    server_stats: r.serverStats,
    seconds: round(r.seconds, 1)
  }
}

const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return "-"
  const a = Math.abs(x)
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2)
}

export const printTable = (r: Results): void => {
  const f = r.figures
  const m = r.machine
  const rows: Array<[string, keyof SystemFigures]> = [
    ["handshakes/s, sequential", "handshakesSeq"],
    ["handshakes/s, 16 concurrent", "handshakes16"],
    ["CPU us per handshake (both sides)", "cpuPerHandshakeUs"],
    ["bulk MB/s (64 KiB writes)", "bulkMBps"],
    ["ping-pong RTT p50 (us)", "rttP50Us"],
    ["ping-pong RTT p99 (us)", "rttP99Us"],
    ["idle conn. RSS (KiB/pair)", "idleRssKiB"],
    ["idle conn. JS heap (KiB/pair)", "idleHeapKiB"],
    ["idle conn. external (KiB/pair)", "idleExternalKiB"]
  ]
  const out: Array<string> = []
  out.push(`SixChat secure channel benchmark (${r.mode} run, ${r.seconds.toFixed(0)} s)`)
  out.push(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}`)
  out.push(`         Node ${m.node}, OpenSSL ${m.openssl}, load average ${m.loadAverage} at start`)
  out.push(`checks:  ${r.sanity.summary}`)
  out.push("set-up:  loopback 127.0.0.1; servers in child processes, clients here; same ECDSA P-256 certs;")
  out.push(`         full chain verification on every handshake; warm-up, then ${r.plan.rounds} interleaved rounds`)
  out.push("")
  const head = ["figure".padEnd(34), "ours/node", "ours/noble", "node:tls", "tcp", "node/tls", "noble/tls"]
  out.push(head.map((h, i) => (i === 0 ? h : h.padStart(11))).join(""))
  for (const [label, key] of rows) {
    const cells = [f["ours-node"][key], f["ours-noble"][key], f.tls[key], f.tcp[key]].map((x) => fmt(x).padStart(11))
    const ratio = (x: number) => `${(x / f.tls[key]).toFixed(2)}x`.padStart(11)
    out.push(label.padEnd(34) + cells.join("") + ratio(f["ours-node"][key]) + ratio(f["ours-noble"][key]))
  }
  out.push("")
  const v = verdicts(ratiosOf(f["ours-node"], f.tls))
  out.push("minimums for the default provider (ours/node:tls):")
  for (const [k, x] of Object.entries(v))
    out.push(
      `  ${k.padEnd(18)} ${x.ratio.toFixed(2).padStart(6)}  ${MINIMUMS[k as keyof typeof MINIMUMS].higherIsBetter ? ">=" : "<="} ${x.limit.toFixed(1)}  ${x.pass ? "ok" : "MISSED"}`
    )
  out.push("(handshake_ratio is the lower of the sequential and 16-concurrent ratios; memory ratio is on RSS)")
  process.stdout.write(`${out.join("\n")}\n`)
}
