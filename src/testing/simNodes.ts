/**
 * The simulated network's nodes (see `SimNetwork.ts` for the model): which node owns which addresses,
 * dialling (address family, partitions, refusals, the connect round trip) and listeners (binding,
 * wildcards, the accept queue).
 */
import { Duration, Effect, Queue, Scope } from "effect"
import { type Address, formatAddress, makeAddress } from "../domain/brands.js"
import { listenerClosed } from "../layers/transport/errors.js"
import type { Connection, Listener, TransportError, TransportService } from "../services/Transport.js"
import { Endpoint, error, type Item, isV6, Links, Pipe, type Resume, SimConn } from "./simLinks.js"

class SimListener implements Listener {
  readonly pending: Array<Endpoint> = []
  readonly waiters: Array<Resume<Endpoint>> = []
  closed = false
  constructor(
    private readonly net: Links,
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

export interface Node {
  readonly hosts: ReadonlyArray<string>
  readonly listeners: Map<string, SimListener>
  nextPort: number
  transport?: TransportService
}

/** The network: its links, and the nodes that own addresses and listen on them. */
export class Sim extends Links {
  readonly owners = new Map<string, Node>()
  private nextConn = 0

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
