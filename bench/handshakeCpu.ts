/**
 * CPU per handshake of our channel, both ends in one process (a profiling aid for issue 15, not a
 * figure of the benchmark): `node [--cpu-prof] dist-bench/bench/handshakeCpu.js [N] [CONCURRENCY]`.
 * Warms up, then runs N handshakes at CONCURRENCY and prints the process's user + system CPU per
 * handshake (client and server together) on stderr.
 */
import { Effect, Exit, Scope } from "effect"
import { acceptLoop, channelsFor, handshakeOnce, listenLoopback } from "./ours.js"
import { CLIENT_HANDLE, makeBenchPki, removePki, SERVER_HANDLE } from "./pki.js"

const n = Number(process.argv[2] ?? 2000)
const concurrency = Number(process.argv[3] ?? 16)
const pki = makeBenchPki()

const program = Effect.gen(function* () {
  const setup = (identity: typeof pki.server) =>
    channelsFor({ provider: "node", identity, anchors: [pki.caDer], signatureCacheSize: 0 })
  const server = yield* setup(pki.server)
  const client = yield* setup(pki.client)
  const scope = yield* Scope.make()
  const listener = yield* Scope.extend(listenLoopback(server.transport), scope)
  const counters = { handshakes: 0, failures: 0, lastError: "" }
  yield* Effect.forkDaemon(acceptLoop(server.channels, listener, counters))
  const run = (count: number) => {
    let left = count
    const worker = Effect.whileLoop({
      while: () => left-- > 0,
      body: () => handshakeOnce(client.channels, listener.address, SERVER_HANDLE),
      step: () => {}
    })
    return Effect.all(
      Array.from({ length: concurrency }, () => worker),
      { concurrency: "unbounded", discard: true }
    )
  }
  yield* run(Math.min(400, n))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  yield* run(n)
  const cpu = process.cpuUsage(cpu0)
  const ms = performance.now() - t0
  process.stderr.write(
    `${n} handshakes at ${concurrency}: ${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU each ` +
      `(user ${(cpu.user / n).toFixed(0)}, system ${(cpu.system / n).toFixed(0)}), ${(n / (ms / 1000)).toFixed(0)}/s; ` +
      `failures ${counters.failures} ${counters.lastError}; client ${CLIENT_HANDLE}\n`
  )
  yield* Scope.close(scope, Exit.void)
})

Effect.runPromise(program)
  .finally(() => removePki(pki))
  .then(() => process.exit(0))
