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
 */
import { Clock, Context, Duration, Effect, Fiber, Layer, Queue, Random, Scope } from "effect"
import { type Address, formatAddress, makeAddress } from "../domain/brands.js"
import { destroyedLocally, listenerClosed, writeAfterEnd } from "../layers/transport/errors.js"
import { Inbox } from "../layers/transport/Inbox.js"
import {
  type Connection,
  type Listener,
  Transport,
  TransportError,
  type TransportService
} from "../services/Transport.js"

export interface SimOptions {
  /** One-way delay per chunk (default 0). */
  readonly latency?: Duration.DurationInput
  /** Extra uniform delay in [0, jitter] per chunk, drawn from the seeded generator (default 0). */
  readonly jitter?: Duration.DurationInput
  /** Seed of the jitter generator (default 0). */
  readonly seed?: number
  /** Bytes written but unread per direction before `write` waits (default 64 KiB). */
  readonly window?: number
  /** What a dial across a partition does (default "unreachable"). */
  readonly partitionDial?: "unreachable" | "hang"
}

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

type Item =
  | { readonly kind: "data"; readonly bytes: Uint8Array; at: number }
  | { readonly kind: "fin" | "rst"; at: number }
type Resume<A> = (result: Effect.Effect<A, TransportError>) => void

const error = (reason: TransportError["reason"], address: Address, message: string) =>
  new TransportError({ reason, address, message })
const resetByPeer = (a: Address) => error("Reset", a, `The connection with ${formatAddress(a)} was reset by the peer.`)
const isV6 = (host: string) => host.includes(":")
const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`)

class Pipe {
  unread = 0
  lastAt = 0
  finDelivered = false
  fiber: Fiber.RuntimeFiber<void> | undefined
  readonly writers: Array<Resume<void>> = []
  constructor(
    readonly queue: Queue.Queue<Item>,
    readonly to: Endpoint
  ) {}

  wakeWriters(window: number): void {
    if (this.unread < window) for (const resume of this.writers.splice(0)) resume(Effect.void)
  }
  failWriters(failure: TransportError): void {
    for (const resume of this.writers.splice(0)) resume(Effect.fail(failure))
  }
}

class SimConn {
  closed = false
  constructor(
    readonly id: number,
    readonly client: Endpoint,
    readonly server: Endpoint
  ) {}
  get pipes(): ReadonlyArray<Pipe> {
    return [this.client.out, this.server.out]
  }
}

class Endpoint implements Connection {
  readonly inbox: Inbox
  readonly read: Effect.Effect<Uint8Array | null, TransportError>
  conn!: SimConn
  out!: Pipe
  in!: Pipe
  ended = false
  destroyed = false
  released = false
  constructor(
    private readonly net: Sim,
    readonly local: Address,
    readonly remote: Address
  ) {
    this.inbox = new Inbox((bytes) => {
      this.in.unread -= bytes
      this.in.wakeWriters(net.window)
    })
    this.read = this.inbox.read
  }

  readonly write = (bytes: Uint8Array): Effect.Effect<void, TransportError> =>
    Effect.suspend(() => {
      const failure = this.destroyed
        ? destroyedLocally(this.remote)
        : (this.inbox.failed ?? (this.ended ? writeAfterEnd(this.remote) : undefined))
      if (failure !== undefined) return Effect.fail(failure)
      const pipe = this.out
      if (pipe.unread >= this.net.window) {
        const wait = Effect.async<void, TransportError>((resume) => {
          pipe.writers.push(resume)
          return Effect.sync(() => {
            const i = pipe.writers.indexOf(resume)
            if (i >= 0) pipe.writers.splice(i, 1)
          })
        })
        return Effect.zipRight(wait, this.write(bytes))
      }
      pipe.unread += bytes.byteLength
      return this.net.send(pipe, { kind: "data", bytes: bytes.slice(), at: 0 })
    })

  get end(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.ended || this.destroyed || this.conn.closed || this.inbox.failed !== undefined) return Effect.void
      this.ended = true
      return Effect.zipRight(
        this.net.record(`end #${this.conn.id} by ${this.local.host}`),
        this.net.send(this.out, { kind: "fin", at: 0 })
      )
    })
  }

  get destroy(): Effect.Effect<void> {
    return Effect.suspend(() => this.net.reset(this))
  }

  /** Scope release: graceful after `end`, otherwise a reset (as TCP). */
  get release(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.destroyed) return Effect.void
      if (this.conn.closed || this.ended) {
        this.released = true
        this.inbox.fail(destroyedLocally(this.remote), true)
        return Effect.void
      }
      return this.net.reset(this)
    })
  }
}

class SimListener implements Listener {
  readonly pending: Array<Endpoint> = []
  readonly waiters: Array<Resume<Endpoint>> = []
  closed = false
  constructor(
    private readonly net: Sim,
    readonly address: Address
  ) {}

  readonly accept: Effect.Effect<Connection, TransportError, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.tap(
      restore(
        Effect.async<Endpoint, TransportError>((resume) => {
          const ready = this.pending.shift()
          if (ready !== undefined) return resume(Effect.succeed(ready))
          if (this.closed) return resume(Effect.fail(listenerClosed(this.address)))
          this.waiters.push(resume)
          return Effect.sync(() => {
            const i = this.waiters.indexOf(resume)
            if (i >= 0) this.waiters.splice(i, 1)
          })
        })
      ),
      (endpoint) =>
        Effect.zipRight(
          this.net.record(`accept #${endpoint.conn.id}`),
          Effect.scopeWith((scope) => Scope.addFinalizer(scope, endpoint.release))
        )
    )
  )

  offer(endpoint: Endpoint): boolean {
    if (this.closed || this.pending.length >= 128) return false
    const resume = this.waiters.shift()
    if (resume !== undefined) resume(Effect.succeed(endpoint))
    else this.pending.push(endpoint)
    return true
  }
}

interface Node {
  readonly hosts: ReadonlyArray<string>
  readonly listeners: Map<string, SimListener>
  nextPort: number
  transport?: TransportService
}

class Sim {
  latencyMs: number
  readonly jitterMs: number
  readonly window: number
  readonly events: Array<string> = []
  readonly owners = new Map<string, Node>()
  readonly partitions = new Set<string>()
  readonly conns = new Set<SimConn>()
  private healWaiters: Array<() => void> = []
  private nextConn = 0

  constructor(
    readonly options: SimOptions,
    readonly scope: Scope.Scope,
    readonly rng: Random.Random
  ) {
    this.latencyMs = Duration.toMillis(options.latency ?? 0)
    this.jitterMs = Duration.toMillis(options.jitter ?? 0)
    this.window = options.window ?? 64 * 1024
  }

  /** Network start time: trace times are relative to it, so a replay in the same test compares equal. */
  startedAt = 0

  record(event: string): Effect.Effect<void> {
    return Effect.map(Clock.currentTimeMillis, (t) => {
      this.events.push(`t=${t - this.startedAt} ${event}`)
    })
  }

  isPartitioned(a: string, b: string): boolean {
    return this.partitions.size > 0 && this.partitions.has(pairKey(a, b))
  }

  readonly awaitHeal: Effect.Effect<void> = Effect.async<void>((resume) => {
    const wake = () => resume(Effect.void)
    this.healWaiters.push(wake)
    return Effect.sync(() => {
      this.healWaiters = this.healWaiters.filter((w) => w !== wake)
    })
  })

  wakeHealed(): void {
    for (const wake of this.healWaiters.splice(0)) wake()
  }

  /** Stamps the item with its delivery time (in order per pipe) and queues it. */
  send(pipe: Pipe, item: Item): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      const now = yield* Clock.currentTimeMillis
      const jitter = this.jitterMs > 0 ? yield* this.rng.nextIntBetween(0, this.jitterMs + 1) : 0
      item.at = Math.max(now + this.latencyMs + jitter, pipe.lastAt)
      pipe.lastAt = item.at
      Queue.unsafeOffer(pipe.queue, item)
    })
  }

  /** One delivery loop per direction, in the network's scope; it ends with the connection. */
  run(pipe: Pipe): Effect.Effect<void> {
    const from = pipe.to.remote.host
    const to = pipe.to.local.host
    return Effect.gen(this, function* () {
      for (;;) {
        const item = yield* Queue.take(pipe.queue)
        const wait = item.at - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        while (this.isPartitioned(from, to)) {
          yield* this.awaitHeal
          if (this.latencyMs > 0) yield* Effect.sleep(Duration.millis(this.latencyMs))
        }
        if (pipe.to.conn.closed) return
        if (yield* this.deliver(pipe, item)) return
      }
    })
  }

  /** Hands one item to its endpoint; true when the connection is over. */
  private deliver(pipe: Pipe, item: Item): Effect.Effect<boolean> {
    const target = pipe.to
    const conn = target.conn
    switch (item.kind) {
      case "data":
        if (target.destroyed || target.released) {
          pipe.unread -= item.bytes.byteLength
          return Effect.as(target.released ? this.reset(target) : Effect.void, false)
        }
        target.inbox.push(item.bytes)
        return Effect.succeed(false)
      case "fin": {
        target.inbox.end()
        pipe.finDelivered = true
        const other = pipe === conn.client.out ? conn.server.out : conn.client.out
        if (!other.finDelivered) return Effect.succeed(false)
        return Effect.as(this.finish(conn, `close #${conn.id}`), true)
      }
      case "rst": {
        const failure = resetByPeer(target.remote)
        target.inbox.fail(failure)
        target.out.failWriters(failure)
        return Effect.as(this.finish(conn, `reset #${conn.id} reaches ${target.local.host}`), true)
      }
    }
  }

  /** Marks the connection over and stops both delivery loops. */
  finish(conn: SimConn, event: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (conn.closed) return Effect.void
      conn.closed = true
      this.conns.delete(conn)
      const fibers = conn.pipes.flatMap((p) => (p.fiber === undefined ? [] : [p.fiber]))
      return Effect.zipRight(
        this.record(event),
        Effect.forEach(fibers, (f) => Fiber.interruptFork(f), { discard: true })
      )
    })
  }

  /** Local abortive close (destroy, or data reaching a closed endpoint): RST travels to the peer. */
  reset(endpoint: Endpoint): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (endpoint.destroyed) return Effect.void
      endpoint.destroyed = true
      const failure = destroyedLocally(endpoint.remote)
      endpoint.inbox.fail(failure, true)
      endpoint.out.failWriters(failure)
      if (endpoint.conn.closed) return Effect.void
      return Effect.zipRight(
        this.record(`reset #${endpoint.conn.id} by ${endpoint.local.host}`),
        this.send(endpoint.out, { kind: "rst", at: 0 })
      )
    })
  }

  nodeFor(hosts: ReadonlyArray<string>): Node {
    const owner = this.owners.get(hosts[0]!)
    if (owner !== undefined && hosts.every((h) => this.owners.get(h) === owner)) return owner
    if (hosts.length === 0 || hosts.some((h) => this.owners.has(h)))
      throw new Error(`SimNetwork: hosts ${hosts.join(", ")} are empty or already belong to another node`)
    const node: Node = { hosts, listeners: new Map(), nextPort: 49152 }
    for (const h of hosts) this.owners.set(h, node)
    return node
  }

  connect(node: Node, address: Address): Effect.Effect<Endpoint, TransportError> {
    return Effect.gen(this, function* () {
      // A node reaches an address only from an address of the same family (no NAT64 here).
      const srcHost = node.hosts.find((h) => isV6(h) === isV6(address.host))
      const target = this.owners.get(address.host)
      const route = `${srcHost ?? node.hosts[0]} -> ${formatAddress(address)}`
      if (srcHost === undefined || target === undefined || this.isPartitioned(srcHost, address.host)) {
        yield* this.record(`unreachable ${route}`)
        if (srcHost !== undefined && target !== undefined && this.options.partitionDial === "hang")
          return yield* Effect.never
        return yield* Effect.fail(error("Unreachable", address, `${formatAddress(address)} is unreachable.`))
      }
      const local = makeAddress(srcHost, node.nextPort++)
      const rtt = Duration.millis(this.latencyMs)
      if (this.latencyMs > 0) yield* Effect.sleep(rtt)
      const wildcard = isV6(address.host) ? "::" : "0.0.0.0"
      const listener =
        target.listeners.get(formatAddress(address)) ??
        target.listeners.get(formatAddress(makeAddress(wildcard, address.port)))
      const client = new Endpoint(this, local, address)
      const server = new Endpoint(this, address, local)
      if (listener === undefined || listener.closed) return yield* this.refuse(route, address)
      const conn = new SimConn(++this.nextConn, client, server)
      client.conn = conn
      server.conn = conn
      client.out = server.in = new Pipe(yield* Queue.unbounded<Item>(), server)
      server.out = client.in = new Pipe(yield* Queue.unbounded<Item>(), client)
      if (!listener.offer(server)) return yield* this.refuse(route, address)
      this.conns.add(conn)
      for (const pipe of conn.pipes) pipe.fiber = yield* Effect.forkIn(this.run(pipe), this.scope)
      yield* this.record(`open #${conn.id} ${formatAddress(local)} -> ${formatAddress(address)}`)
      if (this.latencyMs > 0) yield* Effect.onInterrupt(Effect.sleep(rtt), () => this.reset(client))
      yield* this.record(`connect #${conn.id}`)
      return client
    })
  }

  private refuse(route: string, address: Address): Effect.Effect<never, TransportError> {
    const refused = error(
      "ConnectRefused",
      address,
      `Connection to ${formatAddress(address)} was refused: nothing listens there.`
    )
    return Effect.zipRight(
      Effect.zipRight(
        this.latencyMs > 0 ? Effect.sleep(Duration.millis(this.latencyMs)) : Effect.void,
        this.record(`refused ${route}`)
      ),
      Effect.fail(refused)
    )
  }

  listen(node: Node, address: Address): Effect.Effect<Listener, TransportError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.gen(this, function* () {
        const wildcard = address.host === "::" || address.host === "0.0.0.0"
        if (!wildcard && !node.hosts.includes(address.host))
          return yield* Effect.fail(
            error("Io", address, `Cannot listen on ${formatAddress(address)}: not an address of this node.`)
          )
        const bound = makeAddress(address.host, address.port === 0 ? node.nextPort++ : address.port)
        const key = formatAddress(bound)
        if (node.listeners.has(key))
          return yield* Effect.fail(
            error("AddressInUse", bound, `Cannot listen on ${key}: the address is already in use.`)
          )
        const listener = new SimListener(this, bound)
        node.listeners.set(key, listener)
        yield* this.record(`listen ${key}`)
        return listener
      }),
      (listener) =>
        Effect.gen(this, function* () {
          listener.closed = true
          node.listeners.delete(formatAddress(listener.address))
          for (const resume of listener.waiters.splice(0)) resume(Effect.fail(listenerClosed(listener.address)))
          for (const endpoint of listener.pending.splice(0)) yield* this.reset(endpoint)
          yield* this.record(`unlisten ${formatAddress(listener.address)}`)
        })
    )
  }
}

/** A fresh simulated network; its delivery fibers live in the current scope. */
export const make = (options: SimOptions = {}): Effect.Effect<SimNetwork, never, Scope.Scope> =>
  Effect.gen(function* () {
    const net = new Sim(options, yield* Effect.scope, Random.make(options.seed ?? 0))
    net.startedAt = yield* Clock.currentTimeMillis
    const transportFor = (hosts: string | ReadonlyArray<string>): TransportService => {
      const node = net.nodeFor(typeof hosts === "string" ? [hosts] : hosts)
      if (node.transport === undefined) {
        node.transport = Transport.of({
          listen: (address) => net.listen(node, address),
          dial: (address) =>
            Effect.uninterruptibleMask((restore) =>
              Effect.tap(restore(net.connect(node, address)), (client) =>
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
