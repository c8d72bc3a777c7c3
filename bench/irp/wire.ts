/**
 * What the IRP benchmark's parent and its server processes share: the IPC messages, the SixChat framing
 * (`uint32 BE length || payload`, PROTOCOL.md §3) and the statistics.
 */

/** Parent -> server process. */
export type ToServer = { readonly type: "cpu" }
/** Server process -> parent. */
export type FromServer =
  | { readonly type: "ready"; readonly port: number }
  | { readonly type: "cpu"; readonly micros: number }
  | { readonly type: "error"; readonly message: string }

/** `payload` with its 4-byte big-endian length in front. */
export const frameOf = (payload: Uint8Array): Buffer => {
  const frame = Buffer.allocUnsafe(4 + payload.length)
  frame.writeUInt32BE(payload.length, 0)
  frame.set(payload, 4)
  return frame
}

// --- statistics ---------------------------------------------------------------------------

/** Nearest-rank percentile (`p` in 0..1) of a sample; NaN when empty. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

export interface Measured {
  readonly operations: number
  readonly seconds: number
  /** Latencies of the measured operations, ms, sorted. */
  readonly latencies: ReadonlyArray<number>
  readonly clientCpuMicros: number
  readonly serverCpuMicros: number
}

export interface Figures {
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** CPU time per operation, microseconds. */
  readonly serverCpuUs: number
  readonly clientCpuUs: number
  /** Cores busy on average during the run (1 = one core saturated). */
  readonly serverCores: number
  readonly clientCores: number
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits

export const figuresOf = (m: Measured): Figures => ({
  perSecond: Math.round(m.operations / m.seconds),
  p50Ms: round(percentile(m.latencies, 0.5), 3),
  p99Ms: round(percentile(m.latencies, 0.99), 3),
  serverCpuUs: Math.round(m.serverCpuMicros / Math.max(1, m.operations)),
  clientCpuUs: Math.round(m.clientCpuMicros / Math.max(1, m.operations)),
  serverCores: round(m.serverCpuMicros / 1e6 / m.seconds, 2),
  clientCores: round(m.clientCpuMicros / 1e6 / m.seconds, 2)
})

/** Slices of one figure measured at different times, as one measurement. */
export const combine = (slices: ReadonlyArray<Measured>): Measured => ({
  operations: slices.reduce((n, m) => n + m.operations, 0),
  seconds: slices.reduce((n, m) => n + m.seconds, 0),
  latencies: slices.flatMap((m) => m.latencies).sort((a, b) => a - b),
  clientCpuMicros: slices.reduce((n, m) => n + m.clientCpuMicros, 0),
  serverCpuMicros: slices.reduce((n, m) => n + m.serverCpuMicros, 0)
})
