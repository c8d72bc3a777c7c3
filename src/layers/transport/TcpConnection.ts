/**
 * One established TCP connection behind the `Connection` port, directly on a `net.Socket`.
 *
 * Why not `@effect/platform/Socket`: its `run(handler)` is push-based (every chunk is handed to a
 * handler forked into a per-connection `FiberSet`; nothing pauses the socket when the consumer is
 * behind), its `writer` can only half-close by releasing its scope, and each write waits for the
 * kernel hand-off callback. The port needs pull-based reads with back-pressure, an explicit `end`,
 * and writes that only wait when the socket asks for it, at a cost of a few hundred bytes per idle
 * connection. So this wraps the socket itself: one small object per connection, the listeners are
 * shared functions (state hangs off the socket under a symbol), no fiber exists until someone reads.
 *
 * Bounds: unread input is at most `readLimit` in our queue plus Node's readable high-water mark
 * (16 KiB) plus one chunk in flight; past that the socket is paused, which stops reading from the
 * kernel, so TCP flow control slows the sender (PROTOCOL.md §3: never buffer unbounded input).
 * Output is bounded by Node's writable high-water mark: `write` waits for `drain` while bytes stay in
 * Node's buffer past it (see `full`).
 * Written bytes may be held until sent, so callers must not mutate a buffer after writing it.
 *
 * Closing (PROTOCOL.md §11.9, issue 10 §1). `release` (the scope's end) is a graceful close: FIN after
 * what was written (unless `end` already sent it), then whatever the peer still sends is read and
 * dropped until its FIN, and the socket closes; a peer that sends no FIN within `lingerMs` is cut off
 * then. Reading to the peer's FIN matters twice: closing a socket with unread input makes the kernel
 * send a reset, which destroys what we wrote last (the `<Close/>`, an alert) before the peer reads it,
 * and a socket that is never read to its end nor destroyed keeps its descriptor forever. `destroy` is
 * the abortive close (RST) for protocol violations and expired deadlines. Never `end()` followed at
 * once by `resetAndDestroy()`: on Node 20 that pair leaves the descriptor open for good (the reset
 * waits on a shutdown request that never completes), so once our side is ended a reset is a plain
 * `destroy()`, which the kernel turns into a reset anyway when unread input remains.
 */
import type * as Net from "node:net"
import { Effect } from "effect"
import { type Address, makeAddress } from "../../domain/brands.js"
import type { Connection, OutBytes, TransportError } from "../../services/Transport.js"
import { closedByPeer, destroyedLocally, fromNodeError, writeAfterEnd } from "./errors.js"
import { Inbox } from "./Inbox.js"

/** Default bound on unread input queued per connection, above Node's own readable buffer. */
export const DEFAULT_READ_LIMIT = 64 * 1024

/** Default longest wait, in a graceful close, for the peer's FIN before the socket is closed anyway. */
export const DEFAULT_LINGER_MS = 2000

const kConnection = Symbol.for("sixchat/TcpConnection")
type TaggedSocket = Net.Socket & { [kConnection]?: TcpConnection }
type WriteResume = (result: Effect.Effect<void, TransportError>) => void

const done: Effect.Effect<void, TransportError> = Effect.void

export class TcpConnection implements Connection {
  readonly local: Address
  readonly remote: Address
  readonly inbox: Inbox
  readonly read: Effect.Effect<Uint8Array | null, TransportError>
  private drainWaiters: Array<WriteResume> | undefined
  private streamError: TransportError | undefined
  private destroyed = false
  /** Set by a graceful `release`: input is dropped until the peer's FIN, then the socket closes. */
  private lingering = false

  constructor(
    readonly socket: Net.Socket,
    private readonly readLimit: number,
    fallbackRemote: Address,
    private readonly lingerMs: number = DEFAULT_LINGER_MS
  ) {
    this.local = makeAddress(socket.localAddress ?? "0.0.0.0", socket.localPort ?? 0)
    this.remote = makeAddress(socket.remoteAddress ?? fallbackRemote.host, socket.remotePort ?? fallbackRemote.port)
    this.inbox = new Inbox(() => {
      if (this.inbox.bytes < this.readLimit && socket.isPaused() && !this.destroyed && !this.lingering) socket.resume()
    })
    this.read = this.inbox.read
    socket.setNoDelay(true)
    ;(socket as TaggedSocket)[kConnection] = this
    socket.on("error", onError)
    socket.on("end", onEnd)
    socket.on("close", onClose)
    socket.on("drain", onDrain)
    socket.on("data", onData)
  }

  readonly write = (bytes: OutBytes): Effect.Effect<void, TransportError> =>
    Effect.suspend(() => {
      const failure = this.writeFailure()
      if (failure !== undefined) return Effect.fail(failure)
      // Another writer is already waiting for `drain`: queue behind it instead of growing Node's buffer.
      if (this.full) return Effect.zipRight(this.awaitDrain, this.write(bytes))
      return this.put(bytes) ? done : this.awaitDrain
    })

  readonly tryWrite = (make: () => OutBytes): boolean => {
    if (this.writeFailure() !== undefined || this.full) return false
    this.put(make())
    return true
  }

  /**
   * Parts go out corked: one gathered write (writev) of all of them, none copied into one buffer.
   * `false` when the caller must wait for `drain` (see `full`).
   */
  private put(bytes: OutBytes): boolean {
    const socket = this.socket
    if (bytes instanceof Uint8Array) socket.write(bytes)
    else if (bytes.length === 1) socket.write(bytes[0]!)
    else {
      socket.cork()
      for (const part of bytes) socket.write(part)
      socket.uncork()
    }
    return !this.full
  }

  /**
   * Writers must wait for `drain`: bytes wait in Node's buffer past its high-water mark, or a writer
   * already waits. Not `writableNeedDrain` alone: a write over the mark that the kernel takes at once
   * (a 64 KiB data record, nearly always) leaves it set until Node's next tick with nothing buffered,
   * and waiting for that `drain` cost every data record an asynchronous round trip (issue 15) while
   * bounding nothing. The bound is unchanged: Node's buffer grows past the mark by one write at most.
   */
  private get full(): boolean {
    const socket = this.socket
    return (
      (socket.writableNeedDrain && socket.writableLength > 0) ||
      (this.drainWaiters !== undefined && this.drainWaiters.length > 0)
    )
  }

  // `end`, `destroy` and `release` are built on access: used once per connection, they should not
  // cost idle connections an effect each.
  get end(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.destroyed && !this.socket.writableEnded) this.socket.end()
    })
  }

  get destroy(): Effect.Effect<void> {
    return Effect.sync(() => this.reset())
  }

  /**
   * Releases the connection with its scope: a graceful close (see the module comment). Readers and
   * waiting writers fail at once; the socket itself closes in the background, within `lingerMs`.
   */
  get release(): Effect.Effect<void> {
    return Effect.sync(() => this.linger())
  }

  /** FIN (once what was written is sent), drop input until the peer's FIN, close; bounded by `lingerMs`. */
  linger(): void {
    if (this.destroyed || this.lingering) return
    const socket = this.socket
    if (socket.destroyed) {
      this.destroyed = true
      return
    }
    this.lingering = true
    // Built only if a reader or a waiting writer will see it (see Inbox.fail).
    const remote = this.remote
    this.inbox.fail(() => destroyedLocally(remote), true)
    if (this.drainWaiters !== undefined && this.drainWaiters.length > 0) this.failWriters(destroyedLocally(remote))
    if (!socket.writableEnded) socket.end()
    // With the peer's FIN read and our FIN sent, Node closes the socket itself (autoDestroy).
    if (socket.readableEnded && socket.writableFinished) return void socket.destroy()
    const timer = setTimeout(() => socket.destroy(), this.lingerMs)
    timer.unref()
    socket.once("close", () => clearTimeout(timer))
    // Our shared `data` listener drops what arrives from now on; reading is what lets the FIN arrive.
    if (!socket.readableEnded) socket.resume()
  }

  /** Abortive close: RST to the peer, local readers and writers fail at once. */
  reset(): void {
    if (this.destroyed) return
    this.destroyed = true
    const error = destroyedLocally(this.remote)
    this.inbox.fail(error, true)
    this.failWriters(error)
    const socket = this.socket
    if (socket.destroyed) return
    // After `end()` a reset would leak the descriptor on Node 20 (module comment): close instead.
    if (socket.writableEnded) return void socket.destroy()
    try {
      socket.resetAndDestroy()
    } catch {
      socket.destroy()
    }
  }

  private get awaitDrain(): Effect.Effect<void, TransportError> {
    return Effect.async<void, TransportError>((resume) => {
      const failure = this.writeFailure()
      if (failure !== undefined) return resume(Effect.fail(failure))
      if (!this.full) return resume(done)
      if (this.drainWaiters === undefined) this.drainWaiters = []
      this.drainWaiters.push(resume)
      return Effect.sync(() => {
        const i = this.drainWaiters?.indexOf(resume) ?? -1
        if (i >= 0) this.drainWaiters!.splice(i, 1)
      })
    })
  }

  private writeFailure(): TransportError | undefined {
    if (this.destroyed) return destroyedLocally(this.remote)
    if (this.streamError !== undefined) return this.streamError
    if (this.socket.writableEnded) return writeAfterEnd(this.remote)
    if (this.socket.destroyed) return closedByPeer(this.remote)
    return undefined
  }

  private failWriters(error: TransportError): void {
    const waiters = this.drainWaiters
    if (waiters === undefined || waiters.length === 0) return
    this.drainWaiters = undefined
    const result = Effect.fail(error)
    for (const resume of waiters) resume(result)
  }

  /** @internal socket event handlers, shared by every connection (see the module comment). */
  onData(chunk: Uint8Array): void {
    if (this.lingering) return
    this.inbox.push(chunk)
    if (this.inbox.bytes >= this.readLimit) this.socket.pause()
  }

  onError(cause: Error): void {
    const error = fromNodeError(cause, this.remote, "stream")
    if (this.streamError === undefined) this.streamError = error
    this.inbox.fail(error)
    this.failWriters(error)
  }

  onClose(): void {
    // A close without FIN or error (the socket vanished under us): readers must not wait forever.
    // The error is only built when someone can see it: after a clean FIN both ways nobody can, and
    // capturing its stack on every close cost ~1% of a handshake's CPU.
    const writers = this.drainWaiters !== undefined && this.drainWaiters.length > 0
    const readersDone = this.inbox.isEnded || this.inbox.hasFailed
    if (readersDone && !writers) return
    const error = this.streamError ?? closedByPeer(this.remote)
    if (!this.inbox.isEnded) this.inbox.fail(error)
    this.failWriters(error)
  }

  onDrain(): void {
    const waiters = this.drainWaiters
    if (waiters === undefined || waiters.length === 0) return
    this.drainWaiters = undefined
    for (const resume of waiters) resume(done)
  }
}

function onData(this: TaggedSocket, chunk: Uint8Array): void {
  this[kConnection]?.onData(chunk)
}
function onError(this: TaggedSocket, cause: Error): void {
  this[kConnection]?.onError(cause)
}
function onEnd(this: TaggedSocket): void {
  this[kConnection]?.inbox.end()
}
function onClose(this: TaggedSocket): void {
  this[kConnection]?.onClose()
}
function onDrain(this: TaggedSocket): void {
  this[kConnection]?.onDrain()
}
