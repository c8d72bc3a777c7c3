/**
 * The client side of each system, behind one shape, so the benchmark can run them alike and
 * interleaved: our channel (an Effect program per call) or a node stream (node:tls, TCP).
 */
import { Effect } from "effect"
import { makeAddress } from "../src/domain/brands.js"
import { isOurs, type SystemName } from "./common.js"
import * as Ours from "./ours.js"
import { type BenchPki, makeBenchPki, removePki, savePki } from "./pki.js"
import { type CpuTime, ServerProcess } from "./processes.js"
import * as Streams from "./streams.js"

export interface Contender {
  readonly system: SystemName
  /** `concurrency` loops of full handshakes for `ms`: how many completed, and the time taken. */
  readonly handshakes: (concurrency: number, ms: number) => Promise<{ count: number; ms: number }>
  /** Sends `bytes` over one connection; the time until the server has them all. */
  readonly bulk: (bytes: number) => Promise<{ bytes: number; ms: number }>
  /** Round-trip times of `count` pings after `warmup` unmeasured ones, in microseconds. */
  readonly pingPong: (warmup: number, count: number) => Promise<Array<number>>
  /** CPU time used so far by the server process (microseconds). */
  readonly serverCpu: () => Promise<CpuTime>
}

export const makeContender = async (system: SystemName, server: ServerProcess, pki: BenchPki): Promise<Contender> => {
  const serverCpu = () => server.cpu()
  if (!isOurs(system)) {
    return {
      system,
      serverCpu,
      handshakes: (concurrency, ms) => Streams.handshakes(system, server.port, pki, concurrency, ms),
      bulk: (bytes) => Streams.bulk(system, server.port, pki, bytes),
      pingPong: (warmup, count) => Streams.pingPong(system, server.port, pki, warmup, count)
    }
  }
  const { channels } = await Effect.runPromise(
    Ours.channelsFor({
      provider: system === "ours-node" ? "node" : "noble",
      identity: pki.client,
      anchors: [pki.caDer],
      signatureCacheSize: 0
    })
  )
  const address = makeAddress("127.0.0.1", server.port)
  const peer = pki.server.handle
  return {
    system,
    serverCpu,
    handshakes: (concurrency, ms) => Effect.runPromise(Ours.handshakes(channels, address, peer, concurrency, ms)),
    bulk: (bytes) => Effect.runPromise(Ours.bulk(channels, address, peer, bytes)),
    pingPong: (warmup, count) => Effect.runPromise(Ours.pingPong(channels, address, peer, warmup, count))
  }
}

/**
 * One server process and its contender per system (a fresh PKI), for `body`; the servers are stopped
 * and waited for when it ends, and killed and the PKI removed on every exit path (the diagnostic
 * scripts `bulkCpu.ts` and `rttCpu.ts`).
 */
export const withContenders = async (
  systems: ReadonlyArray<SystemName>,
  body: (contenders: ReadonlyArray<Contender>) => Promise<void>
): Promise<void> => {
  const pki = makeBenchPki()
  const pkiPath = savePki(pki)
  const servers: Array<ServerProcess> = []
  try {
    const contenders: Array<Contender> = []
    for (const s of systems) {
      const server = await ServerProcess.start(s, pkiPath, 0)
      servers.push(server)
      contenders.push(await makeContender(s, server, pki))
    }
    await body(contenders)
    for (const s of servers) await s.stopAndWait()
  } finally {
    for (const s of servers) s.stop()
    removePki(pki)
  }
}
