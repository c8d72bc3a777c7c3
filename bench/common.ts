/**
 * What the benchmark's parent and child processes agree on: the systems compared, the little
 * protocol the stream servers (node:tls, plain TCP) speak, the IPC messages, small statistics.
 */
import type { Handle } from "../src/domain/brands.js"
import type { AppMessage } from "../src/domain/e2e/messages.js"

/** The contenders: our channel with each crypto provider, the anchor (node:tls), and plain TCP. */
export const SYSTEMS = ["ours-node", "ours-noble", "tls", "tcp"] as const
export type SystemName = (typeof SYSTEMS)[number]

export const isOurs = (s: SystemName): s is "ours-node" | "ours-noble" => s === "ours-node" || s === "ours-noble"
export const providerOf = (s: "ours-node" | "ours-noble"): "node" | "noble" => (s === "ours-node" ? "node" : "noble")

/**
 * Stream servers (node:tls and TCP): right after the connection is established (TLS: after both
 * certificates verified) the server writes READY. The client then writes one mode byte:
 * ECHO (every byte comes back) or SINK (uint64 BE byte count, then that many bytes; the server
 * answers DONE once all arrived). A handshake-only client just closes after READY.
 * Our channel does the same with records: a 1-byte data record as READY, `<Message>`s echoed,
 * data records swallowed (a `<Message>` after them tells the client they all arrived).
 */
export const READY = 0x52
export const ECHO = 0x45
export const SINK = 0x53
export const DONE = 0x44

/** 64 KiB: bulk writes and records. */
export const BULK_CHUNK = 64 * 1024
/** The ping-pong payload: 100 bytes. */
export const PING_BYTES = 100

/** Our `<Message>` for the ping-pong: a 100-byte body. */
export const pingMessage: AppMessage = {
  _tag: "e2e.Message",
  id: "01JDQ3ZV8Y6W4R2T0N9M7K5H3G" as never,
  sent: "2026-11-26T12:00:00Z" as never,
  body: "x".repeat(PING_BYTES)
}

/** Parent -> server child. */
export type ToServer = { readonly type: "cpu" } | { readonly type: "stats" }
/** Server child -> parent. */
export type FromServer =
  | { readonly type: "ready"; readonly port: number }
  | { readonly type: "cpu"; readonly user: number; readonly system: number; readonly minorFaults: number }
  | { readonly type: "stats"; readonly handshakes: number; readonly failures: number; readonly lastError: string }
  | { readonly type: "error"; readonly message: string }

export const asHandle = (s: string): Handle => s as Handle

// --- statistics ---------------------------------------------------------------------------

export const median = (xs: ReadonlyArray<number>): number => percentile(xs, 0.5)

/** Nearest-rank percentile (`p` in 0..1) of a sample. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[rank]!
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Collects garbage until the heap stops shrinking (needs `--expose-gc`). */
export const settleMemory = async (): Promise<NodeJS.MemoryUsage> => {
  const gc = (globalThis as { gc?: () => void }).gc
  await sleep(300)
  for (let i = 0; i < 6; i++) {
    gc?.()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage()
}

/** Runs a bench script's `main`: exit 0 when it resolves, its stack on stderr and exit 1 when it fails. */
export const runMain = (name: string, main: () => Promise<void>): void => {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${name} failed: ${String((e as Error)?.stack ?? e)}\n`)
      process.exit(1)
    }
  )
}
