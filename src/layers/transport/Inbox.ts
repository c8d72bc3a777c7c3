/**
 * The receive side of one connection, shared by the TCP layer and the simulated network: a queue of
 * unread chunks, the end-of-stream / failure state, and at most one parked reader.
 *
 * It allocates nothing per idle connection beyond this object and one `read` effect, which keeps idle
 * connections cheap (no fiber, no `Queue`). Bounding is the owner's job: it looks at `bytes` after
 * each `push` and stops its source (pauses the socket, closes the window); `onConsumed` tells it when
 * the reader has taken bytes so it can start the source again.
 */
import { Effect } from "effect"
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
  private waiter: Resume | undefined

  /**
   * The next chunk, `null` after the peer's end of stream, or the failure. Data queued before an end
   * or a peer failure is still delivered first; a local `fail(..., discard)` drops it.
   */
  readonly read: ReadResult

  constructor(private readonly onConsumed: (bytes: number) => void) {
    // One-argument register function: Effect.async allocates no AbortController for it. Queued data
    // is returned without the async machinery (it allocates, and bulk reads mostly find data queued).
    const wait = Effect.async<Uint8Array | null, TransportError>((resume) => {
      const ready = this.take()
      if (ready !== undefined) return resume(ready)
      if (this.waiter !== undefined) return resume(Effect.dieMessage("Connection.read was called concurrently"))
      this.waiter = resume
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    })
    this.read = Effect.suspend(() => this.take() ?? wait)
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
      this.waiter = undefined
      this.onConsumed(chunk.byteLength)
      waiter(Effect.succeed(chunk))
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
    if (discard && this.chunks !== undefined) {
      this.chunks.length = 0
      this.bytes = 0
    }
    if (this.failure !== undefined) return
    this.failure = error
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    const ready = this.take()
    if (ready === undefined) return
    this.waiter = undefined
    waiter(ready)
  }

  private take(): ReadResult | undefined {
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
