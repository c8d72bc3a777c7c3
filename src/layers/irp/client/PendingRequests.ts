/**
 * The IRP client's requests awaiting their answer, by id, with their deadlines.
 *
 * Why not a `Deferred` plus `Effect.timeoutFail` per request: measured on the load generator, a
 * `Deferred` costs ~5 µs to make (it copies a large prototype) and `timeoutFail` ~30 µs (it races the
 * request against a timer in two child fibers), together more than everything else the client does per
 * request. Here a request is a plain record settled by whoever learns its outcome first (the reader
 * with the answer, the sweep with the timeout, the end of the connection with its reason), and the
 * requester waits on it with one `Effect.async`.
 *
 * Timeouts: one sweep per connection (`sweepPeriod`) fails every request whose deadline has passed. A
 * request without an answer therefore fails with `Timeout` after at least `requestTimeout` and at most
 * `requestTimeout` plus one period (a quarter of the timeout, between 10 ms and 250 ms). Deadlines are
 * on the Clock's monotonic time, so a step of the wall clock neither fires nor delays them. The deadline
 * counts from when the request is made, its send included; a requester whose send the transport holds
 * back (the server stopped reading) learns of its timeout when the send returns, which the channel's
 * write limit bounds. An interrupted requester leaves its entry to the answer or the sweep, whichever
 * comes first (see `PendingRequest.wait`).
 */
import { Duration, Effect, Exit } from "effect"
import type { IrpAnswer } from "../../../domain/irp/messages.js"
import type { IrpClientError } from "../../../services/IrpClient.js"

/** A whole answer: one document, or a CRL put together from its parts. */
export type Answer = IrpAnswer | { readonly _tag: "crl"; readonly der: Uint8Array }

/** What the requester gets: the value its method returns, or why not. */
type Outcome = Exit.Exit<unknown, IrpClientError>

/**
 * A request's reading of its answer: the value its method returns, or why the answer is refused (the
 * server's `<Error>`, an answer of another kind, one that does not answer what was asked). Run by the
 * reader as it hands the answer over, so the requester resumes with its result and no further step.
 */
export type Accept = (answer: Answer) => Outcome

export class PendingRequest {
  /** The parts of a CRL received so far (made by the first part: most requests are not `<Crl>`). */
  crl: Array<Uint8Array> | undefined = undefined
  private outcome: Outcome | undefined = undefined
  private resume: ((outcome: Outcome) => void) | undefined = undefined

  constructor(
    /** The request's element name, for messages ("Lookup"). */
    readonly name: string,
    /** Monotonic nanoseconds (`Clock.unsafeCurrentTimeNanos`). */
    readonly deadline: bigint,
    /** How the answer becomes the outcome (see `Accept`). */
    readonly accept: Accept
  ) {}

  /** Hands the outcome to the requester (now, or when it starts waiting). Called at most once. */
  settle(outcome: Outcome): void {
    const resume = this.resume
    if (resume === undefined) this.outcome = outcome
    else {
      this.resume = undefined
      resume(outcome)
    }
  }

  /**
   * Hands the outcome to `resume`: at once when it is already settled, else when it is. For the
   * registration of an `Effect.async` (`wait`, or the multiplexer's `call`, whose requester waits in the
   * same `Effect.async` that sends its request). No canceler on purpose: `Effect.async` with one wraps the
   * wait in `onInterrupt` (masks, an exit handler), which measured 4 to 7 µs per request, more than the
   * rest of the request path. An interrupted requester's entry therefore stays until its answer or the
   * sweep removes it (at most `requestTimeout` plus a period), and settling it then does nothing: the
   * fiber ignores a resume that comes after its interruption.
   */
  resumeWith(resume: (outcome: Outcome) => void): void {
    if (this.outcome !== undefined) resume(this.outcome)
    else this.resume = resume
  }

  /** Waits for the outcome (see `resumeWith`). */
  get wait(): Effect.Effect<unknown, IrpClientError> {
    return Effect.async<unknown, IrpClientError>((resume) => this.resumeWith(resume))
  }
}

/** A quarter of the request timeout, between 10 ms and 250 ms: the most a timeout fires late. */
export const sweepPeriod = (requestTimeout: Duration.Duration): Duration.Duration =>
  Duration.millis(Math.min(250, Math.max(10, Math.floor(Duration.toMillis(requestTimeout) / 4))))

export class PendingRequests {
  private readonly byId = new Map<string, PendingRequest>()

  get size(): number {
    return this.byId.size
  }

  add(id: string, request: PendingRequest): void {
    this.byId.set(id, request)
  }

  /** The request waiting under `id`, if it still waits. */
  get(id: string): PendingRequest | undefined {
    return this.byId.get(id)
  }

  forget(id: string): void {
    this.byId.delete(id)
  }

  /** Settles and forgets the request under `id`. */
  settle(id: string, request: PendingRequest, outcome: Outcome): void {
    this.byId.delete(id)
    request.settle(outcome)
  }

  /** Settles and forgets the request under `id` with what it makes of `answer` (`accept`). */
  answer(id: string, request: PendingRequest, answer: Answer): void {
    this.byId.delete(id)
    request.settle(request.accept(answer))
  }

  /** Fails every waiting request with `error` (the connection ended). */
  failAll(error: IrpClientError): void {
    const failed = Exit.fail(error)
    for (const request of this.byId.values()) request.settle(failed)
    this.byId.clear()
  }

  /**
   * Fails every request whose deadline is at or before `now` with its `timeout` error. It looks at every
   * entry rather than stopping at the first one still in time: the map is in the order requests were
   * made, which is the order of their deadlines only while every request has the same timeout.
   */
  expire(now: bigint, timeout: (request: PendingRequest) => IrpClientError): void {
    for (const [id, request] of this.byId)
      if (request.deadline <= now) {
        this.byId.delete(id)
        request.settle(Exit.fail(timeout(request)))
      }
  }
}
