/**
 * Memory per idle established connection: `node --expose-gc dist-bench/bench/memory.js SYSTEM PKI.json N`.
 * A fresh process per system, holding both ends of every connection (client and server, as the
 * idle-memory script of the transport does), so the figure is per connection *pair*. Each idle
 * connection is established and has a reader waiting: our channel a fiber parked in `receive`
 * on both ends, node:tls / TCP sockets a `data` listener. A warm-up batch (kept open) is part of
 * the baseline, so JIT and first-use allocations are not counted. Prints one JSON line.
 */
import type * as Net from "node:net"
import { Effect } from "effect"
import { isOurs, providerOf, type SystemName, settleMemory } from "./common.js"
import { acceptLoop, channelsFor, holdIdle, listenLoopback } from "./ours.js"
import { loadPki } from "./pki.js"
import { connectStream, startStreamServer } from "./streams.js"

export interface MemoryFigure {
  readonly system: SystemName
  readonly connections: number
  /** KiB per connection pair, after GC. */
  readonly heapKiB: number
  readonly externalKiB: number
  readonly rssKiB: number
  readonly gc: boolean
}

const WARMUP = 20

const main = async (): Promise<void> => {
  const [system, pkiPath, count] = process.argv.slice(2) as [SystemName, string, string]
  const n = Number(count)
  const pki = loadPki(pkiPath)
  const counters = { handshakes: 0, failures: 0, lastError: "" }
  let open: (k: number) => Promise<void>
  if (isOurs(system)) {
    const setup = { provider: providerOf(system), anchors: [pki.caDer], signatureCacheSize: 0 }
    const { channels: server, transport } = await Effect.runPromise(channelsFor({ ...setup, identity: pki.server }))
    const { channels: client } = await Effect.runPromise(channelsFor({ ...setup, identity: pki.client }))
    const address = await new Promise<Parameters<typeof holdIdle>[1]>((resolve, reject) => {
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const listener = yield* listenLoopback(transport)
            resolve(listener.address)
            return yield* acceptLoop(server, listener, counters)
          })
        )
      ).catch(reject)
    })
    open = (k) =>
      Effect.runPromise(
        Effect.forEach(Array.from({ length: k }), () => holdIdle(client, address, pki.server.handle), {
          discard: true
        })
      )
  } else {
    const server = await startStreamServer(system, pki, counters)
    const port = (server.address() as Net.AddressInfo).port
    const keep: Array<Net.Socket> = []
    open = async (k) => {
      for (let i = 0; i < k; i++) {
        const socket = await connectStream(system, port, pki)
        socket.on("data", () => {})
        keep.push(socket)
      }
    }
  }
  await open(WARMUP)
  const before = await settleMemory()
  await open(n)
  const after = await settleMemory()
  if (counters.handshakes !== WARMUP + n || counters.failures !== 0)
    throw new Error(
      `server saw ${counters.handshakes} handshakes, ${counters.failures} failures: ${counters.lastError}`
    )
  const per = (k: "heapUsed" | "external" | "rss") => (after[k] - before[k]) / n / 1024
  const figure: MemoryFigure = {
    system,
    connections: n,
    heapKiB: per("heapUsed"),
    externalKiB: per("external"),
    rssKiB: per("rss"),
    gc: typeof (globalThis as { gc?: unknown }).gc === "function"
  }
  process.stdout.write(`${JSON.stringify(figure)}\n`)
  process.exit(0)
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`)
  process.exit(1)
})
