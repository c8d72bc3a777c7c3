/**
 * An in-memory simulated network for deterministic tests: the same `Transport` port as real TCP.
 *
 *   const net = yield* SimNetwork.make({ latency: "50 millis", seed: 7 })   // scoped
 *   const alice = net.transportFor("2001:db8::a")                          // a node with its address(es)
 *   Layer.succeed(Transport, alice)  or  SimNetwork.layer(net, "2001:db8::a")
 *
 * Model (documented choices):
 * - Each chunk travels one way in `latency` (+ a seeded uniform jitter in [0, jitter]); delivery is
 *   scheduled with `Effect.sleep`, so under `TestClock` nothing arrives until `TestClock.adjust`.
 *   Order is kept per direction (a chunk never overtakes an earlier one). Latency 0 delivers at once.
 * - A connect costs one round trip: the listener sees the connection after `latency`, the dialer
 *   gets it after another `latency`. No listener -> `ConnectRefused` (after the round trip); no such
 *   host, no address of the target's family on the dialing node (a v4-only node cannot reach a v6
 *   address), or the two hosts are partitioned -> `Unreachable` at once (or, with
 *   `partitionDial: "hang"`, the dial never completes and the caller's timeout decides).
 * - A partition stalls established connections both ways (TCP would retransmit): nothing is lost,
 *   delivery resumes `latency` after `heal`. Keep-alive timeouts above are what notices it.
 * - Flow control like TCP's window: at most `window` bytes written but not yet read per direction;
 *   `write` waits for the reader beyond that (bounded buffering, PROTOCOL.md §3).
 * - `end` = FIN (the peer reads `null` after the data before it); `destroy` = RST (the peer's reads
 *   and writes fail with `Reset` after `latency`; data it already received stays readable first).
 *   A connection released by its scope after `end` is a graceful close; data that still arrives
 *   resets it, as a closed socket would. `dropConnections(host)` resets both ends at once.
 * - Listeners bind one of the node's addresses or a wildcard (`::`, `0.0.0.0`, which accept on any of
 *   the node's addresses); the same host:port twice -> `AddressInUse`. Ports are per node, from 49152.
 * - `trace()` lists listens, connects, accepts, ends, closes, resets, refusals, partitions and drops
 *   with the simulated time; the same program with the same seed gives the same trace.
 *
 * The links (delivery, latency, partitions, FIN/RST) are in `simLinks.ts`, the nodes (addresses,
 * dialling, listeners) in `simNodes.ts`; this module is the entry point.
 */
import { Clock, Context, Duration, Effect, Layer, Random, Scope } from "effect"
import { type Address, formatAddress } from "../domain/brands.js"
import { Transport, type TransportError, type TransportService } from "../services/Transport.js"
import { error, pairKey, type SimOptions } from "./simLinks.js"
import { Sim } from "./simNodes.js"

export type { SimOptions } from "./simLinks.js"

export interface SimNetwork {
  /** The transport of the node owning these address(es); the same node for the same addresses. */
  readonly transportFor: (hosts: string | ReadonlyArray<string>) => TransportService
  readonly partition: (a: string, b: string) => Effect.Effect<void>
  readonly heal: (a: string, b: string) => Effect.Effect<void>
  /** Resets every connection with an end on `host`, both ends at once. */
  readonly dropConnections: (host: string) => Effect.Effect<void>
  /** Changes the one-way latency of chunks sent from now on. */
  readonly setLatency: (latency: Duration.DurationInput) => Effect.Effect<void>
  readonly trace: () => ReadonlyArray<string>
}

/** A fresh simulated network; its delivery fibers live in the current scope. */
/** The port's connect timeout, on the Effect Clock (the simulation runs on TestClock). */
const withConnectTimeout = <A>(
  connect: Effect.Effect<A, TransportError>,
  address: Address,
  timeout: Duration.Duration | undefined
): Effect.Effect<A, TransportError> =>
  timeout === undefined
    ? connect
    : Effect.timeoutFail(connect, {
        duration: timeout,
        onTimeout: () =>
          error(
            "ConnectTimeout",
            address,
            `Connecting to ${formatAddress(address)} took longer than ${Duration.format(timeout)}.`
          )
      })

export const make = (options: SimOptions = {}): Effect.Effect<SimNetwork, never, Scope.Scope> =>
  Effect.gen(function* () {
    const net = new Sim(options, yield* Effect.scope, Random.make(options.seed ?? 0))
    net.startedAt = yield* Clock.currentTimeMillis
    const transportFor = (hosts: string | ReadonlyArray<string>): TransportService => {
      const node = net.nodeFor(typeof hosts === "string" ? [hosts] : hosts)
      if (node.transport === undefined) {
        node.transport = Transport.of({
          listen: (address) => net.listen(node, address),
          dial: (address, timeout) =>
            Effect.uninterruptibleMask((restore) =>
              Effect.tap(restore(withConnectTimeout(net.connect(node, address), address, timeout)), (client) =>
                Effect.scopeWith((scope) => Scope.addFinalizer(scope, client.release))
              )
            )
        })
      }
      return node.transport
    }
    const setPartition = (a: string, b: string, on: boolean) =>
      Effect.suspend(() => {
        if (on) net.partitions.add(pairKey(a, b))
        else if (net.partitions.delete(pairKey(a, b))) net.wakeHealed()
        return net.record(`${on ? "partition" : "heal"} ${a} ${b}`)
      })
    const dropConnections = (host: string) =>
      Effect.gen(function* () {
        yield* net.record(`drop ${host}`)
        for (const conn of [...net.conns]) {
          if (conn.client.local.host !== host && conn.server.local.host !== host) continue
          for (const endpoint of [conn.client, conn.server]) {
            const failure = error(
              "Reset",
              endpoint.remote,
              `The connection with ${formatAddress(endpoint.remote)} was dropped.`
            )
            endpoint.inbox.fail(failure)
            endpoint.out.failWriters(failure)
          }
          yield* net.finish(conn, `dropped #${conn.id}`)
        }
      })
    return {
      transportFor,
      partition: (a, b) => setPartition(a, b, true),
      heal: (a, b) => setPartition(a, b, false),
      dropConnections,
      setLatency: (latency) =>
        Effect.sync(() => {
          net.latencyMs = Duration.toMillis(latency)
        }),
      trace: () => [...net.events]
    } satisfies SimNetwork
  })

/** `Transport` for the node owning `hosts` on `network`. */
export const layer = (network: SimNetwork, hosts: string | ReadonlyArray<string>): Layer.Layer<Transport> =>
  Layer.sync(Transport, () => network.transportFor(hosts))

/** The network as a service, for suites that build nodes from layers. */
export class Network extends Context.Tag("sixchat/testing/SimNetwork")<Network, SimNetwork>() {}

export const layerNetwork = (options: SimOptions = {}): Layer.Layer<Network> => Layer.scoped(Network, make(options))

/** `Transport` for one node of the `Network` in context. */
export const layerNode = (hosts: string | ReadonlyArray<string>): Layer.Layer<Transport, never, Network> =>
  Layer.effect(
    Transport,
    Effect.map(Network, (network) => network.transportFor(hosts))
  )
