/**
 * The receive side of one connection, shared by the TCP layer and the simulated network: a queue of
 * unread chunks, the end-of-stream / failure state, and at most one parked reader.
 *
 * It allocates nothing per idle connection beyond this object and one `read` effect, which keeps idle
 * connections cheap (no fiber, no `Queue`). Bounding is the owner's job: it looks at `bytes` after
 * each `push` and stops its source (pauses the socket, closes the window); `onConsumed` tells it when
 * the reader has taken bytes so it can start the source again.
 */
import { Effect, type Fiber } from "effect"
import type { TransportError } from "../../services/Transport.js"

type ReadResult = Effect.Effect<Uint8Array | null, TransportError>
type Resume = (result: ReadResult) => void

const endOfStream: ReadResult = Effect.succeed(null)

export class Inbox {
  /** Unread bytes currently queued (not counting a chunk handed straight to a parked reader). */
  bytes = 0
  private chunks: Array<Uint8Array> | undefined
  private ended = false
  /** The failure, or how to build it: its stack trace is only captured when someone reads it. */
  private failure: TransportError | (() => TransportError) | undefined
  /** The parked reader, and its fiber (see `read`). */
  private waiter: Resume | undefined
  private waiterFiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** A chunk handed to the parked reader: it takes it when it runs (see `push`). Read before `chunks`. */
  private handed: Uint8Array | undefined

  /**
   * The next chunk, `null` after the peer's end of stream, or the failure. Data queued before an end
   * or a peer failure is still delivered first; a local `fail(..., discard)` drops it.
   *
   * A reader that finds nothing parks in an `Effect.async` without a canceler (issue 15): returning one
   * makes `Effect.async` wrap every wait in `onInterrupt` (an interruption mask, a `matchCauseEffect`,
   * about eight more steps and a dozen objects per wait), and those objects outlived young-generation
   * collections (~600 KB promoted per scavenge in the ping-pong server, none without them). What the
   * canceler did is done here instead: a parked reader is woken with `read` itself, so it takes its
   * chunk only when it runs (an interrupted reader takes nothing; the chunk waits for the next read),
   * and a waiter left by an interrupted read is recognised by its fiber (ended, or the one reading now)
   * and replaced, while a second reader alongside a live one still dies as before.
   */
  readonly read: ReadResult

  constructor(private readonly onConsumed: (bytes: number) => void) {
    // One-argument register function: Effect.async allocates no AbortController for it. Queued data
    // is returned without the async machinery (it allocates, and bulk reads mostly find data queued).
    const wait = Effect.async<Uint8Array | null, TransportError>((resume) => {
      const ready = this.take()
      if (ready !== undefined) return resume(ready)
      this.waiter = resume
    })
    const park = Effect.withFiberRuntime<Uint8Array | null, TransportError>((fiber) => {
      const previous = this.waiterFiber
      if (this.waiter !== undefined && previous !== fiber && previous?.unsafePoll() === null)
        return Effect.dieMessage("Connection.read was called concurrently")
      this.waiter = undefined
      this.waiterFiber = fiber as Fiber.RuntimeFiber<unknown, unknown>
      return wait
    })
    this.read = Effect.suspend(() => this.take() ?? park)
  }

  get isEnded(): boolean {
    return this.ended
  }

  /** Whether the inbox failed, without building a lazily given error. */
  get hasFailed(): boolean {
    return this.failure !== undefined
  }

  get failed(): TransportError | undefined {
    const failure = this.failure
    if (typeof failure !== "function") return failure
    const error = failure()
    this.failure = error
    return error
  }

  /** Enqueues a chunk from the peer, or hands it to the parked reader. */
  push(chunk: Uint8Array): void {
    if (this.ended || this.failure !== undefined) return
    const waiter = this.waiter
    if (waiter !== undefined) {
      // Nothing is queued while a reader is parked: this chunk comes first. See `read`.
      this.waiter = undefined
      this.handed = chunk
      this.onConsumed(chunk.byteLength)
      waiter(this.read)
      return
    }
    if (this.chunks === undefined) this.chunks = []
    this.chunks.push(chunk)
    this.bytes += chunk.byteLength
  }

  /** The peer ended its side: readers get `null` once the queue is drained. */
  end(): void {
    if (this.ended || this.failure !== undefined) return
    this.ended = true
    this.wake()
  }

  /**
   * The connection failed (the first failure wins); `discard` drops unread data (a local destroy).
   * `error` may be a function that builds it, called only if a reader ever sees it: a local close
   * fails the inbox on every connection, and capturing an error's stack cost ~2 % of a handshake.
   */
  fail(error: TransportError | (() => TransportError), discard = false): void {
    if (discard) {
      this.handed = undefined
      if (this.chunks !== undefined) {
        this.chunks.length = 0
        this.bytes = 0
      }
    }
    if (this.failure !== undefined) return
    this.failure = error
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(this.read)
  }

  private take(): ReadResult | undefined {
    const handed = this.handed
    if (handed !== undefined) {
      this.handed = undefined
      return Effect.succeed(handed)
    }
    const chunks = this.chunks
    if (chunks !== undefined && chunks.length > 0) {
      const chunk = chunks.shift()!
      this.bytes -= chunk.byteLength
      this.onConsumed(chunk.byteLength)
      return Effect.succeed(chunk)
    }
    const failed = this.failed
    if (failed !== undefined) return Effect.fail(failed)
    if (this.ended) return endOfStream
    return undefined
  }
}
