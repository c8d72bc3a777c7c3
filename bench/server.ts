/**
 * The benchmark's server process: `node dist-bench/bench/server.js SYSTEM PKI.json CACHE`.
 * Started by `channel.ts` with an IPC channel; it listens on 127.0.0.1 (port chosen by the OS),
 * reports `{ type: "ready", port }`, answers `cpu` / `stats` requests, and exits when the parent
 * disconnects. Servers run in their own process for every system alike, so each side's CPU time
 * is its own and client and server can use both cores.
 */
import { Effect } from "effect"
import { type FromServer, isOurs, providerOf, type SystemName, type ToServer } from "./common.js"
import { acceptLoop, channelsFor, listenLoopback } from "./ours.js"
import { loadPki } from "./pki.js"
import { startStreamServer } from "./streams.js"

const send = (message: FromServer): void => {
  process.send?.(message)
}

const main = async (): Promise<void> => {
  const [system, pkiPath, cache] = process.argv.slice(2) as [SystemName, string, string]
  const pki = loadPki(pkiPath)
  const counters = { handshakes: 0, failures: 0, lastError: "" }
  let port: number
  if (isOurs(system)) {
    // The listener lives as long as the process: the program runs the accept loop forever.
    port = await new Promise<number>((resolve, reject) => {
      const program = Effect.gen(function* () {
        const { channels, transport } = yield* channelsFor({
          provider: providerOf(system),
          identity: pki.server,
          anchors: [pki.caDer],
          signatureCacheSize: Number(cache)
        })
        const listener = yield* listenLoopback(transport)
        resolve(listener.address.port)
        return yield* acceptLoop(channels, listener, counters)
      }).pipe(Effect.scoped)
      Effect.runPromise(program).catch(reject)
    })
  } else {
    const server = await startStreamServer(system, pki, counters)
    port = (server.address() as { port: number }).port
  }
  process.on("message", (m: ToServer) => {
    if (m.type === "cpu") {
      const cpu = process.cpuUsage()
      send({ type: "cpu", user: cpu.user, system: cpu.system, minorFaults: process.resourceUsage().minorPageFault })
    } else if (m.type === "stats") {
      send({ type: "stats", ...counters })
    }
  })
  process.on("disconnect", () => process.exit(0))
  send({ type: "ready", port })
}

main().catch((e: unknown) => {
  send({ type: "error", message: String((e as Error)?.stack ?? e) })
  process.exit(1)
})
