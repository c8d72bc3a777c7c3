/**
 * What the IRP benchmark's parent and its server processes share: the IPC messages, and the framing of
 * the bare TLS anchor (the same `uint32 BE length || payload` frames as SixChat, PROTOCOL.md §3).
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

/** Counts the complete frames in a byte stream (their contents do not matter to the anchor). */
export class FrameSplitter {
  private need = 4
  private inHeader = true
  private header = Buffer.alloc(4)
  private have = 0

  /** Feeds bytes; returns how many frames they completed. */
  push(chunk: Uint8Array): number {
    let frames = 0
    let at = 0
    while (at < chunk.length) {
      const take = Math.min(this.need - this.have, chunk.length - at)
      if (this.inHeader) this.header.set(chunk.subarray(at, at + take), this.have)
      this.have += take
      at += take
      if (this.have < this.need) break
      if (this.inHeader) {
        this.inHeader = false
        this.need = this.header.readUInt32BE(0)
        this.have = 0
        if (this.need > 0) continue
      }
      frames++
      this.inHeader = true
      this.need = 4
      this.have = 0
    }
    return frames
  }
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
