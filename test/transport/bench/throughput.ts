/**
 * Bulk transfer over loopback in 64 KiB writes: TcpTransport vs a raw net.Socket pipe.
 * Not a test (numbers depend on the machine). Run:
 *   npx esbuild --bundle --platform=node --format=esm --packages=external \
 *     test/transport/bench/throughput.ts --outfile=node_modules/.cache/bench/throughput.mjs \
 *     && node node_modules/.cache/bench/throughput.mjs
 * Both ends run in one process (one JS thread), for both contenders alike.
 */
import * as Net from "node:net"
import { Effect } from "effect"
import { makeAddress } from "../../../src/domain/brands.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"

const CHUNK = 64 * 1024
const TOTAL = Number(process.env.MIB ?? 512) * 1024 * 1024
const payload = new Uint8Array(CHUNK).fill(7)

const raw = async (host: string): Promise<number> => {
  let received = 0
  let done!: () => void
  const finished = new Promise<void>((r) => {
    done = r
  })
  const server = Net.createServer((s) => {
    s.on("data", (d: Buffer) => {
      received += d.byteLength
    })
    s.on("end", () => done())
  })
  await new Promise<void>((r) => server.listen(0, host, r))
  const client = Net.connect((server.address() as Net.AddressInfo).port, host)
  client.setNoDelay(true)
  await new Promise((r) => client.once("connect", r))
  const start = performance.now()
  let sent = 0
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent < TOTAL) {
        sent += CHUNK
        if (!client.write(payload)) return void client.once("drain", pump)
      }
      client.end()
      resolve()
    }
    pump()
  })
  await finished
  const seconds = (performance.now() - start) / 1000
  server.close()
  if (received !== TOTAL) throw new Error(`raw: received ${received}`)
  return TOTAL / seconds / 1e6
}

const ours = (host: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const transport = yield* TcpTransport.make
      const listener = yield* transport.listen(makeAddress(host, 0))
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      const start = performance.now()
      const reader = yield* Effect.fork(
        Effect.gen(function* () {
          let received = 0
          for (;;) {
            const chunk = yield* server.read
            if (chunk === null) return received
            received += chunk.byteLength
          }
        })
      )
      for (let sent = 0; sent < TOTAL; sent += CHUNK) yield* client.write(payload)
      yield* client.end
      const received = yield* reader.await.pipe(Effect.flatten)
      const seconds = (performance.now() - start) / 1000
      if (received !== TOTAL) throw new Error(`ours: received ${received}`)
      return TOTAL / seconds / 1e6
    })
  )

const main = async () => {
  console.log(`${TOTAL / 1024 / 1024} MiB in 64 KiB writes over loopback (MB/s, best of 3)`)
  for (const host of ["127.0.0.1", "::1"]) {
    let bestRaw = 0
    let bestOurs = 0
    for (let i = 0; i < 3; i++) {
      bestRaw = Math.max(bestRaw, await raw(host))
      bestOurs = Math.max(bestOurs, await Effect.runPromise(ours(host)))
    }
    console.log(
      `${host.padEnd(10)} raw net.Socket ${bestRaw.toFixed(0).padStart(6)}   TcpTransport ${bestOurs.toFixed(0).padStart(6)}`
    )
  }
}

void main()
