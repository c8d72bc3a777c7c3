/**
 * The IRP benchmark's load: server processes (`server.ts`) and closed-loop clients. Each connection keeps
 * exactly one request outstanding (send, wait for the answer, send the next), so N connections are N
 * requests in flight. Our clients are `IrpClientLive`
 * connections; the anchor's are Node TLS 1.3 sockets with the same client certificates, sending the same
 * bytes our requests carry and waiting for one reply frame.
 */
import { type ChildProcess, fork } from "node:child_process"
import { openSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import type { FromServer, Measured } from "./wire.js"

export interface ServerProcess {
  readonly port: number
  /** The process's CPU time so far, microseconds. */
  readonly cpu: () => Promise<number>
  readonly stop: () => Promise<void>
}

const SERVER = fileURLToPath(new URL("./server.js", import.meta.url))
let spawned = 0

/** Starts `server.js` with `args`; resolves once it listens. Its stderr (the request log) goes to /dev/null. */
export const spawnServer = (args: ReadonlyArray<string>): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    // SIXCHAT_BENCH_SERVER_FLAGS: node flags for the server processes only (e.g. `--cpu-prof` to profile them).
    const flags = process.env.SIXCHAT_BENCH_SERVER_FLAGS?.split(" ").filter((f) => f.length > 0)
    // SIXCHAT_BENCH_SERVER_OUT: a file prefix for the server processes' stdout (e.g. `--trace-gc` lines).
    const out = process.env.SIXCHAT_BENCH_SERVER_OUT
    const stdout = out === undefined ? "ignore" : openSync(`${out}.${args[0]}.${++spawned}.txt`, "a")
    // SIXCHAT_BENCH_SERVER_JS: another build's `server.js` (`profile.js scale-ab` compares two builds).
    const child: ChildProcess = fork(process.env.SIXCHAT_BENCH_SERVER_JS ?? SERVER, [...args], {
      stdio: ["ignore", stdout, "ignore", "ipc"],
      ...(flags === undefined ? {} : { execArgv: flags })
    })
    const waiting: Array<(micros: number) => void> = []
    child.on("message", (m: FromServer) => {
      if (m.type === "ready")
        resolve({
          port: m.port,
          cpu: () =>
            new Promise((r) => {
              waiting.push(r)
              child.send({ type: "cpu" })
            }),
          stop: () =>
            new Promise((r) => {
              child.once("exit", () => r())
              child.disconnect()
            })
        })
      else if (m.type === "cpu") waiting.shift()?.(m.micros)
      else reject(new Error(`server process failed: ${m.message}`))
    })
    child.once("exit", (code) => reject(new Error(`server process exited with ${code} before it was ready`)))
  })

/**
 * One connection's work: `promise` ops (the anchor's Node sockets) or `effect` ops (our client, whose
 * API is Effects: the whole loop of a connection runs in one fiber, as an Effect program would use it,
 * rather than paying `Effect.runPromise` per request).
 */
export type Op =
  | { readonly promise: (connection: number) => Promise<void> }
  | { readonly effect: (connection: number) => Effect.Effect<void, unknown> }

/** Runs `op` on `connection` until `end`, each latency recorded; resolves with the operations done. */
const connectionLoop = (op: Op, c: number, end: number, latencies: Array<number> | undefined): Promise<number> => {
  if ("promise" in op)
    return (async () => {
      let n = 0
      while (performance.now() < end) {
        const t0 = performance.now()
        await op.promise(c)
        latencies?.push(performance.now() - t0)
        n++
      }
      return n
    })()
  const once = op.effect(c)
  return Effect.runPromise(
    Effect.gen(function* () {
      let n = 0
      while (performance.now() < end) {
        const t0 = performance.now()
        yield* once
        latencies?.push(performance.now() - t0)
        n++
      }
      return n
    })
  )
}

/** Runs `op` on `connections` connections for `ms` (after `warmupMs` of the same), measuring both ends' CPU. */
export const measure = async (
  server: ServerProcess,
  connections: number,
  op: Op,
  ms: number,
  warmupMs: number
): Promise<Measured> => {
  const run = async (durationMs: number, latencies: Array<number> | undefined) => {
    const end = performance.now() + durationMs
    const counts = await Promise.all(
      Array.from({ length: connections }, (_, c) => connectionLoop(op, c, end, latencies))
    )
    return counts.reduce((a, b) => a + b, 0)
  }
  await run(warmupMs, undefined)
  const latencies: Array<number> = []
  const serverBefore = await server.cpu()
  const clientBefore = process.cpuUsage()
  const t0 = performance.now()
  const operations = await run(ms, latencies)
  const seconds = (performance.now() - t0) / 1000
  const client = process.cpuUsage(clientBefore)
  const serverAfter = await server.cpu()
  return {
    operations,
    seconds,
    latencies: latencies.sort((a, b) => a - b),
    clientCpuMicros: client.user + client.system,
    serverCpuMicros: serverAfter - serverBefore
  }
}
