/**
 * The simulated network's links (see `SimNetwork.ts` for the model): connections as two pipes, one per
 * direction, each with its own delivery loop that applies latency, jitter, order, partitions and the
 * flow-control window; FIN, RST and the trace. Addresses, nodes and listeners are in `simNodes.ts`.
 */
import { Clock, Duration, Effect, Fiber, Queue, type Random, type Scope } from "effect"
import { type Address, formatAddress } from "../domain/brands.js"
import { destroyedLocally, writeAfterEnd } from "../layers/transport/errors.js"
import { Inbox } from "../layers/transport/Inbox.js"
import { type Connection, type OutBytes, TransportError } from "../services/Transport.js"

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

export type Item =
  | { readonly kind: "data"; readonly bytes: Uint8Array; at: number }
  | { readonly kind: "fin" | "rst"; at: number }
export type Resume<A> = (result: Effect.Effect<A, TransportError>) => void

export const error = (reason: TransportError["reason"], address: Address, message: string) =>
  new TransportError({ reason, address, message })
const resetByPeer = (a: Address) => error("Reset", a, `The connection with ${formatAddress(a)} was reset by the peer.`)
export const isV6 = (host: string) => host.includes(":")
export const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`)

/** The parts of a gathered write as one fresh buffer. */
export const concatParts = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const part of parts) length += part.byteLength
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

export class Pipe {
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

export class SimConn {
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

export class Endpoint implements Connection {
  readonly inbox: Inbox
  readonly read: Effect.Effect<Uint8Array | null, TransportError>
  conn!: SimConn
  out!: Pipe
  in!: Pipe
  ended = false
  destroyed = false
  released = false
  constructor(
    private readonly net: Links,
    readonly local: Address,
    readonly remote: Address
  ) {
    this.inbox = new Inbox((bytes) => {
      this.in.unread -= bytes
      this.in.wakeWriters(net.window)
    })
    this.read = this.inbox.read
  }

  readonly write = (out: OutBytes): Effect.Effect<void, TransportError> =>
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
        return Effect.zipRight(wait, this.write(out))
      }
      // A copy either way: the caller may reuse its buffers once the write returns.
      const bytes = out instanceof Uint8Array ? out.slice() : concatParts(out)
      pipe.unread += bytes.byteLength
      return this.net.send(pipe, { kind: "data", bytes, at: 0 })
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

/** The delivery engine: what every connection of the network shares. */
export class Links {
  latencyMs: number
  readonly jitterMs: number
  readonly window: number
  readonly events: Array<string> = []
  readonly partitions = new Set<string>()
  readonly conns = new Set<SimConn>()
  private healWaiters: Array<() => void> = []

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
}
