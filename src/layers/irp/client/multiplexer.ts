/**
 * The IRP client's multiplexer (PROTOCOL.md §17): requests wait under their own ULID (monotonic per
 * connection: one random draw per millisecond), one reader fiber dispatches answers (and `<Changed>`
 * pushes) as they come, in any order. A request that gets no answer within `requestTimeout` (plus at most
 * one sweep period, see `PendingRequests`) fails with `Timeout` and its late answer is dropped. When the
 * channel ends, every waiting request and every watch stream fails with the reason.
 */
import { Deferred, Duration, Effect, Exit, PubSub } from "effect"
import { concatBytes } from "../../../domain/bytes.js"
import type { Changed, IrpAnswer, IrpRequest } from "../../../domain/irp/messages.js"
import { monotonicUlids } from "../../../domain/ulid.js"
import type { EntropyService } from "../../../services/Entropy.js"
import { IrpClientError } from "../../../services/IrpClient.js"
import type { ChannelError, SecureChannel } from "../../../services/SecureChannel.js"
import { channelFailure, type Endpoint, protocolError, refused, timedOut } from "./errors.js"
import { type Answer, PendingRequest, PendingRequests, sweepPeriod } from "./PendingRequests.js"
import { refuseUnsendable } from "./unsendable.js"

const concat = concatBytes

/** Starts the reader and the timeout sweep (scoped) over `channel`; returns how to call the server. */
export const startMultiplexer = (
  channel: SecureChannel<IrpAnswer | Changed, IrpRequest>,
  endpoint: Endpoint,
  requestTimeout: Duration.Duration,
  entropy: EntropyService
) =>
  Effect.gen(function* () {
    const serverName = endpoint.serverName
    const clock = yield* Effect.clock
    const pending = new PendingRequests()
    const changes = yield* Effect.acquireRelease(PubSub.sliding<Changed>(1024), PubSub.shutdown)
    const closed = yield* Deferred.make<never, IrpClientError>()
    let failure: IrpClientError | undefined
    const terminate = (e: IrpClientError): void => {
      failure ??= e
      pending.failAll(failure)
      Deferred.unsafeDone(closed, Exit.fail(failure))
    }

    /** Hands an answer to its request; a `<Changed>` push goes to the watchers. */
    const dispatch = (m: IrpAnswer | Changed): Effect.Effect<void> | undefined => {
      if (m._tag === "irp.Changed") return Effect.asVoid(PubSub.publish(changes, m))
      const id = m.id
      if (id === undefined)
        return Effect.logWarning(
          `IRP server ${serverName} reported an error for an unreadable request: ${m._tag === "irp.Error" ? m.message : "?"}`
        )
      const p = pending.get(id)
      if (p === undefined) return undefined // answered after its request timed out
      if (m._tag === "irp.CrlResult") {
        p.crl ??= []
        const crl = p.crl
        if (m.part !== crl.length + 1) {
          terminate(protocolError(endpoint, `CRL part ${m.part} arrived after part ${crl.length}`))
          return undefined
        }
        crl.push(m.der)
        if (m.part < m.parts) return undefined
        pending.answer(id, p, { _tag: "crl", der: concat(crl) })
        return undefined
      }
      pending.answer(id, p, m)
      return undefined
    }

    const reader: Effect.Effect<void, ChannelError> = Effect.flatMap(channel.receive, (inbound) => {
      if (inbound._tag === "Closed")
        return Effect.sync(() =>
          terminate(
            new IrpClientError({
              reason: "Channel",
              message: `The IRP server ${serverName} closed the connection${inbound.reason ? ` (${inbound.reason})` : ""}: reconnect.`
            })
          )
        )
      if (inbound._tag === "Data") return Effect.sync(() => terminate(protocolError(endpoint, "a binary record")))
      const effect = dispatch(inbound.message)
      return effect === undefined ? reader : Effect.zipRight(effect, reader)
    })
    yield* reader.pipe(
      Effect.catchAll((e) => Effect.sync(() => terminate(channelFailure(endpoint, e)))),
      Effect.onInterrupt(() =>
        Effect.sync(() => terminate(new IrpClientError({ reason: "Channel", message: "The IRP client was closed." })))
      ),
      Effect.forkScoped
    )

    // Requests that outlive their deadline fail with Timeout (see PendingRequests for the bounds).
    const timeoutMs = Duration.toMillis(requestTimeout)
    const timeoutNanos = BigInt(Math.round(timeoutMs * 1e6))
    const timedOutAnswer = (request: PendingRequest) => timedOut(endpoint, `answer ${request.name}`, timeoutMs)
    yield* Effect.sleep(sweepPeriod(requestTimeout)).pipe(
      Effect.zipRight(Effect.sync(() => pending.expire(clock.unsafeCurrentTimeNanos(), timedOutAnswer))),
      Effect.forever,
      Effect.forkScoped
    )

    // One random draw per millisecond (the ULID spec's monotonic mode), taken from a pool refilled 128 draws
    // at a time: the operating system's generator costs about as much for 1280 bytes as for 10 (~1.7 µs),
    // and a busy connection starts a new millisecond on most requests.
    let pool: Uint8Array = new Uint8Array(0)
    let poolAt = 0
    const newId = monotonicUlids(() => {
      if (poolAt === pool.length) {
        pool = entropy.bytes(1280)
        poolAt = 0
      }
      poolAt += 10
      return pool.subarray(poolAt - 10, poolAt)
    })

    /**
     * Sends the request and waits for its whole answer (or the connection's end, or the timeout), then
     * checks it is of the `expected` kind (or the server's refusal) and makes it the method's value
     * (`finish`, by default the answer itself). The check and `finish` run as the reader hands the answer
     * over (`Accept`), so the requester resumes with its value: no step of its own after the wait.
     *
     * The whole request is one `Effect.async`: its registration builds the request, enters it in the
     * pending table and sends it through the channel's fast path (`trySend`, a plain call) when the
     * channel has one and nothing stands in the way; otherwise it resumes at once with the effect that
     * sends it (`send`, which waits its turn or reports the channel's failure) and then waits. Issue 15:
     * the common path takes no effect step besides the wait itself.
     */
    const call: {
      <T extends Answer["_tag"]>(
        build: (id: IrpRequest["id"]) => IrpRequest,
        expected: T
      ): Effect.Effect<Extract<Answer, { _tag: T }>, IrpClientError>
      <T extends Answer["_tag"], A>(
        build: (id: IrpRequest["id"]) => IrpRequest,
        expected: T,
        finish: (answer: Extract<Answer, { _tag: T }>) => Exit.Exit<A, IrpClientError>
      ): Effect.Effect<A, IrpClientError>
    } = <T extends Answer["_tag"], A>(
      build: (id: IrpRequest["id"]) => IrpRequest,
      expected: T,
      finish?: (answer: Extract<Answer, { _tag: T }>) => Exit.Exit<A, IrpClientError>
    ): Effect.Effect<A, IrpClientError> =>
      Effect.async<A, IrpClientError>((resume) => {
        if (failure !== undefined) return resume(Effect.fail(failure))
        const request = build(newId(clock.unsafeCurrentTimeMillis()))
        const refusal = refuseUnsendable(request)
        if (refusal !== undefined) return resume(Effect.fail(refusal))
        const name = request._tag.slice(4)
        const id = request.id
        const accept = (answer: Answer): Exit.Exit<unknown, IrpClientError> => {
          if (answer._tag === expected) {
            const a = answer as Extract<Answer, { _tag: T }>
            return finish === undefined ? Exit.succeed(a) : finish(a)
          }
          if (answer._tag === "irp.Error") return Exit.fail(refused(name, answer))
          return Exit.fail(protocolError(endpoint, `${answer._tag.slice(4)} in answer to ${name}`))
        }
        const p = new PendingRequest(name, clock.unsafeCurrentTimeNanos() + timeoutNanos, accept)
        pending.add(id, p)
        if (channel.trySend?.(request) === true) return p.resumeWith(resume as (outcome: unknown) => void)
        resume(
          Effect.matchEffect(channel.send(request), {
            onFailure: (e) => {
              pending.forget(id)
              return Effect.fail(channelFailure(endpoint, e))
            },
            onSuccess: () => p.wait as Effect.Effect<A, IrpClientError>
          })
        )
      })
    const ok = (build: (id: IrpRequest["id"]) => IrpRequest) => call(build, "irp.Ok", () => Exit.void)

    return {
      call,
      ok,
      /** `<Changed>` pushes, for watchers. */
      changes,
      /** Fails with the reason once the connection has ended. */
      closed: Deferred.await(closed),
      /** Why the connection ended, once it has. */
      failure: () => failure
    }
  })

export type Multiplexer = Effect.Effect.Success<ReturnType<typeof startMultiplexer>>
