/**
 * A micro-benchmark of the IRP client's own request path (`src/layers/irp/client/`): `lookup` through the
 * real multiplexer and request methods, over an in-memory channel that answers each `<Lookup>` with a
 * ready `<LookupResult>` from a `setImmediate` callback (as a socket's data event would), with 16
 * connections each keeping one request outstanding, as `bench:irp` does. No encryption, XML or sockets:
 * what is left is the client's Effect machinery (the requester's fiber, the reader fiber, ids, the
 * pending table). Its `send` and `trySend` answer alike, so the client takes its fast path as over the
 * real channel. Prints the CPU per lookup (µs).
 *
 *     node dist-bench/bench/irp/clientPath.js [LOOKUPS_PER_CONNECTION] [ROUNDS]
 */
import { Duration, Effect } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import type { Changed, IrpAnswer, IrpRequest } from "../../src/domain/irp/messages.js"
import { make as makeEntropy } from "../../src/layers/EntropyLive.js"
import { startMultiplexer } from "../../src/layers/irp/client/multiplexer.js"
import { makeRequests } from "../../src/layers/irp/client/requests.js"
import type { Inbound, SecureChannel } from "../../src/services/SecureChannel.js"
import { fillerHandle } from "./setup.js"

const [perConnection = "20000", rounds = "5"] = process.argv.slice(2) as [string?, string?]
const CONNECTIONS = 16
const HANDLE = fillerHandle(1)

/** A channel whose peer answers every Lookup at once (on the next turn of the event loop). */
const fakeChannel = (): SecureChannel<IrpAnswer | Changed, IrpRequest> => {
  const inbox: Array<Inbound<IrpAnswer | Changed>> = []
  let waiting: ((m: Inbound<IrpAnswer | Changed>) => void) | undefined
  const deliver = (m: Inbound<IrpAnswer | Changed>) => {
    const w = waiting
    if (w === undefined) inbox.push(m)
    else {
      waiting = undefined
      w(m)
    }
  }
  /** The peer's side of a send: a `<Lookup>` is answered on the next turn of the event loop. */
  const answer = (request: IrpRequest) => {
    if (request._tag !== "irp.Lookup") return
    const answer: IrpAnswer = {
      _tag: "irp.LookupResult",
      id: request.id,
      handle: request.handle,
      status: "good",
      chain: [],
      bindings: []
    }
    setImmediate(() => deliver({ _tag: "Message", message: answer }))
  }
  return {
    send: (request: IrpRequest) => Effect.sync(() => answer(request)),
    // As the real channel's fast path (`SecureChannel.trySend`), which takes nearly every send.
    trySend: (request: IrpRequest) => {
      answer(request)
      return true
    },
    receive: Effect.async((resume) => {
      const m = inbox.shift()
      if (m !== undefined) resume(Effect.succeed(m))
      else waiting = (x) => resume(Effect.succeed(x))
    }),
    close: () => Effect.void
  } as unknown as SecureChannel<IrpAnswer | Changed, IrpRequest>
}

const program = Effect.gen(function* () {
  const entropy = yield* makeEntropy
  const clients = yield* Effect.forEach(Array.from({ length: CONNECTIONS }), () =>
    Effect.gen(function* () {
      const channel = fakeChannel()
      const endpoint = { address: makeAddress("127.0.0.1", 1), serverName: "irp.example.org" }
      const mux = yield* startMultiplexer(channel, endpoint, Duration.seconds(60), entropy)
      return makeRequests(mux, endpoint, null, undefined, Effect.void, Effect.void)
    })
  )
  const n = Number(perConnection)
  const results: Array<number> = []
  for (let r = 0; r < Number(rounds); r++) {
    const before = process.cpuUsage()
    yield* Effect.forEach(
      clients,
      (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* client.lookup(HANDLE)
        }),
      { concurrency: "unbounded", discard: true }
    )
    const used = process.cpuUsage(before)
    results.push(Math.round(((used.user + used.system) / (n * CONNECTIONS)) * 100) / 100)
  }
  return results
})

Effect.runPromise(Effect.scoped(program)).then(
  (r) => process.stdout.write(`${JSON.stringify({ cpuMicrosPerLookup: r })}\n`),
  (e: unknown) => {
    process.stderr.write(`clientPath failed: ${String(e)}\n`)
    process.exit(1)
  }
)
