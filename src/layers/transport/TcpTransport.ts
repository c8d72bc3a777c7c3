/**
 * `Transport` over real TCP, IPv4 and IPv6 (PROTOCOL.md §2: UAs work over IPv6 and flat IPv4).
 *
 * Built on `node:net` rather than `@effect/platform`'s `Socket`/`SocketServer`: see
 * `TcpConnection.ts` for why (push-only reads without back-pressure, no half-close, a fiber set per
 * connection). The listener keeps accepted sockets in a small array until `accept` pulls them.
 *
 * Policies:
 * - Every socket is half-open capable (`allowHalfOpen`), so `end` sends FIN and reads go on.
 * - `setNoDelay(true)`: the protocol is interactive and writes whole frames.
 * - `listen` binds exactly the given address; an IPv6 address is bound `ipv6Only`, so `::` does not
 *   take IPv4 too (callers bind `0.0.0.0` and `::` separately when they want both).
 * - `dial` accepts IPv4/IPv6 literals and host names (resolved by the OS, Happy Eyeballs on). Its
 *   optional timeout is a plain timer on the socket (real TCP runs on real time); interruption, e.g. a
 *   caller's own `Effect.timeout`, destroys the socket too.
 * - Connections are released with their scope, gracefully (FIN, input dropped until the peer's FIN,
 *   at most `lingerMs`; see `TcpConnection.ts`); the port's `destroy` is the reset.
 */
import * as Net from "node:net"
import { Duration, Effect, Layer, Scope } from "effect"
import { type Address, formatAddress, makeAddress } from "../../domain/brands.js"
import {
  type Connection,
  type Listener,
  Transport,
  type TransportError,
  type TransportService
} from "../../services/Transport.js"
import { connectTimedOut, fromNodeError, listenerClosed } from "./errors.js"
import { DEFAULT_LINGER_MS, DEFAULT_READ_LIMIT, TcpConnection } from "./TcpConnection.js"

export interface TcpOptions {
  /** Unread input queued per connection before the socket is paused (default 64 KiB). */
  readonly readLimit?: number
  /** Accepted connections held while nobody calls `accept`; beyond it new ones are reset (default 128). */
  readonly maxPendingAccepts?: number
  /** Longest wait for the peer's FIN in a graceful close before the socket is closed anyway (default 2 s). */
  readonly lingerMs?: number
}

/**
 * Ties a connection to the caller's scope. `Scope.addFinalizer` rather than `Effect.addFinalizer`:
 * the latter captures the fiber's refs per connection, which idle connections should not pay for.
 */
const releaseWithScope = (connection: TcpConnection): Effect.Effect<void, never, Scope.Scope> =>
  Effect.scopeWith((scope) => Scope.addFinalizer(scope, connection.release))

type AcceptResume = (result: Effect.Effect<TcpConnection, TransportError>) => void

/** Connects within `timeoutMs` (if given); interruption (e.g. the caller's timeout) destroys the half-open socket. */
const connect = (
  address: Address,
  readLimit: number,
  lingerMs: number,
  timeoutMs: number | undefined
): Effect.Effect<TcpConnection, TransportError> =>
  Effect.async<TcpConnection, TransportError>((resume) => {
    const socket = Net.connect({ host: address.host, port: address.port, allowHalfOpen: true, noDelay: true })
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            socket.off("connect", onConnect)
            socket.off("error", onFailure)
            socket.on("error", () => {})
            socket.destroy()
            resume(Effect.fail(connectTimedOut(address, timeoutMs)))
          }, timeoutMs)
    const onConnect = () => {
      clearTimeout(timer)
      socket.off("error", onFailure)
      resume(Effect.succeed(new TcpConnection(socket, readLimit, address, lingerMs)))
    }
    const onFailure = (cause: Error) => {
      clearTimeout(timer)
      socket.off("connect", onConnect)
      socket.destroy()
      resume(Effect.fail(fromNodeError(cause, address, "dial")))
    }
    socket.once("connect", onConnect)
    socket.once("error", onFailure)
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.off("connect", onConnect)
      // Keep a listener so a late error of the abandoned socket cannot crash the process.
      socket.on("error", () => {})
      socket.destroy()
    })
  })

/** Binds and starts listening; resolves with the server once it is bound. */
const bind = (address: Address): Effect.Effect<Net.Server, TransportError> =>
  Effect.async<Net.Server, TransportError>((resume) => {
    const server = Net.createServer({ allowHalfOpen: true, noDelay: true })
    const onListening = () => {
      server.off("error", onFailure)
      resume(Effect.succeed(server))
    }
    const onFailure = (cause: Error) => {
      server.off("listening", onListening)
      server.close()
      resume(Effect.fail(fromNodeError(cause, address, "listen")))
    }
    server.once("listening", onListening)
    server.once("error", onFailure)
    server.listen({ host: address.host, port: address.port, ipv6Only: Net.isIPv6(address.host), exclusive: true })
    return Effect.sync(() => {
      server.off("listening", onListening)
      server.close()
    })
  })

class TcpListener implements Listener {
  readonly address: Address
  private readonly pending: Array<TcpConnection> = []
  private readonly waiters: Array<AcceptResume> = []
  private failure: TransportError | undefined

  constructor(
    private readonly server: Net.Server,
    requested: Address,
    private readonly readLimit: number,
    private readonly maxPending: number,
    private readonly lingerMs: number
  ) {
    const bound = server.address()
    this.address = bound !== null && typeof bound === "object" ? makeAddress(bound.address, bound.port) : requested
    server.on("connection", (socket) => this.onConnection(socket))
    server.on("error", (cause) => this.shutdown(fromNodeError(cause, this.address, "listen")))
  }

  readonly accept: Effect.Effect<Connection, TransportError, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.tap(
      restore(
        Effect.async<TcpConnection, TransportError>((resume) => {
          const ready = this.pending.shift()
          if (ready !== undefined) return resume(Effect.succeed(ready))
          if (this.failure !== undefined) return resume(Effect.fail(this.failure))
          this.waiters.push(resume)
          return Effect.sync(() => {
            const i = this.waiters.indexOf(resume)
            if (i >= 0) this.waiters.splice(i, 1)
          })
        })
      ),
      releaseWithScope
    )
  )

  /** Stops listening, resets connections nobody accepted, fails waiting `accept`s. */
  shutdown(error: TransportError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.server.close()
    for (const connection of this.pending.splice(0)) connection.reset()
    const result = Effect.fail(error)
    for (const resume of this.waiters.splice(0)) resume(result)
  }

  private onConnection(socket: Net.Socket): void {
    if (this.failure !== undefined || this.pending.length >= this.maxPending) {
      socket.on("error", () => {})
      socket.resetAndDestroy()
      return
    }
    const connection = new TcpConnection(socket, this.readLimit, this.address, this.lingerMs)
    const resume = this.waiters.shift()
    if (resume !== undefined) resume(Effect.succeed(connection))
    else this.pending.push(connection)
  }
}

/** A `TransportService` over `node:net` with the given bounds. */
export const makeWith = (options: TcpOptions = {}): Effect.Effect<TransportService> =>
  Effect.sync(() => {
    const readLimit = options.readLimit ?? DEFAULT_READ_LIMIT
    const maxPending = options.maxPendingAccepts ?? 128
    const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS

    const listen = Effect.fn("Transport.listen")(function* (address: Address) {
      const listener = yield* Effect.acquireRelease(
        Effect.map(bind(address), (server) => new TcpListener(server, address, readLimit, maxPending, lingerMs)),
        (listener) => Effect.sync(() => listener.shutdown(listenerClosed(listener.address)))
      )
      yield* Effect.annotateCurrentSpan("address", formatAddress(listener.address))
      return listener as Listener
    })

    // Untraced on purpose: a span costs ~12 µs (measured), a noticeable share of a whole secure
    // handshake's client side; connection errors carry the address.
    const dial = (
      address: Address,
      timeout?: Duration.Duration
    ): Effect.Effect<Connection, TransportError, Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.tap(
          restore(
            connect(address, readLimit, lingerMs, timeout === undefined ? undefined : Duration.toMillis(timeout))
          ),
          releaseWithScope
        )
      )

    return Transport.of({ listen, dial })
  })

/** A `TransportService` over `node:net` with the default bounds. */
export const make: Effect.Effect<TransportService> = makeWith()

export const layer: Layer.Layer<Transport> = Layer.effect(Transport, make)

export const layerWith = (options: TcpOptions): Layer.Layer<Transport> => Layer.effect(Transport, makeWith(options))
