/**
 * Transport: byte streams between addresses. Real TCP (`layers/transport/TcpTransport`) or the
 * in-memory simulated network (`test/support/SimNetwork`). Everything above it (framing, handshake,
 * records) is the same code on both.
 */
import { Context, Data, type Duration, type Effect, type Scope } from "effect"
import type { Address } from "../domain/brands.js"

export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: "ConnectRefused" | "ConnectTimeout" | "Unreachable" | "AddressInUse" | "Reset" | "Io"
  readonly address?: Address | undefined
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Bytes to send: one buffer, or parts sent back to back exactly as their concatenation would be (a
 * gathered write: a record's header, ciphertext and tag go out without being copied into one buffer).
 */
export type OutBytes = Uint8Array | ReadonlyArray<Uint8Array>

/** One established, bidirectional byte stream. */
export interface Connection {
  readonly local: Address
  readonly remote: Address
  /**
   * The next chunk of bytes the peer sent, in order, or `null` once the peer has ended its side (FIN).
   * Pull-based with a small bounded buffer: a slow reader pauses the socket rather than buffering without limit.
   */
  readonly read: Effect.Effect<Uint8Array | null, TransportError>
  /** Queues bytes for sending; resolves once accepted by the transport (respecting back-pressure). */
  readonly write: (bytes: OutBytes) => Effect.Effect<void, TransportError>
  /**
   * Optional fast path of `write`: when the transport can take bytes at once (it has not failed and no
   * writer waits for it to drain), calls `make` and queues its bytes, returning `true`; otherwise calls
   * nothing and returns `false` (use `write`). Lets a sender skip the effect machinery on the common,
   * uncontended path while keeping `write`'s bound: once over its buffer limit, the next writer waits.
   */
  readonly tryWrite?: (make: () => OutBytes) => boolean
  /** Ends our side cleanly (FIN) after pending writes; further reads still see what the peer sends. */
  readonly end: Effect.Effect<void>
  /** Tears the connection down at once (RST where the transport has one): for protocol violations and expired deadlines. Idempotent. */
  readonly destroy: Effect.Effect<void>
}

export interface Listener {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: Address
  /**
   * Waits for the next inbound connection; it is released with the given scope. Over TCP the release
   * is graceful (FIN, what the peer still sends dropped until its FIN, bounded linger); the simulated
   * network resets a connection released without `end`.
   */
  readonly accept: Effect.Effect<Connection, TransportError, Scope.Scope>
}

export interface TransportService {
  /** Binds and listens; the listener closes when the scope closes. */
  readonly listen: (address: Address) => Effect.Effect<Listener, TransportError, Scope.Scope>
  /**
   * Opens a connection; it is released when the scope closes, as an accepted one is. With `timeout`,
   * a connect that takes longer fails with reason `ConnectTimeout` (the transport's own timer: cheaper
   * than racing the dial against a sleep, two fibers per connection; issue 15).
   */
  readonly dial: (
    address: Address,
    timeout?: Duration.Duration | undefined
  ) => Effect.Effect<Connection, TransportError, Scope.Scope>
}

export class Transport extends Context.Tag("sixchat/Transport")<Transport, TransportService>() {}
