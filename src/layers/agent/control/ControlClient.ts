/**
 * A client of the agent's control socket (`docs/CONTROL.md`): typed calls (params encoded and results
 * decoded with the method table's Schemas) and a Stream of events per `subscribe`. The CLI's people
 * commands use it; so can tests and other programs written with Effect.
 *
 * One reader fiber per connection matches responses to calls by id. A subscription's queue is
 * registered by the reader itself as it reads the `subscribe` response, so no event that follows the
 * response can be missed. When the connection ends, every pending call and every event stream fails
 * with a `Connection` error.
 */
import * as Net from "node:net"
import { Deferred, Effect, Either, ParseResult, Queue, Schema, type Scope, Stream } from "effect"
import { paramSentence } from "../../../domain/agent/params.js"
import {
  agentErrorReasonOf,
  ErrorCode,
  EVENT_METHOD,
  RpcErrorObject,
  SubscribeResult
} from "../../../domain/agent/rpc.js"
import type { AgentEvent } from "../../../services/Agent.js"
import { ControlError, checkSocketPathLength, connectionLost, noAgent } from "./errors.js"
import { LineSocket } from "./lineSocket.js"
import { decodeEvent, type MethodName, Methods, type ParamsOf, type ResultOf } from "./methods.js"

export interface ControlClient {
  readonly call: <M extends MethodName>(method: M, params: ParamsOf<M>) => Effect.Effect<ResultOf<M>, ControlError>
  /**
   * Subscribes to the agent's events: once this returns, every later event is in the stream (so a
   * caller can subscribe, then load history, and miss nothing). Unsubscribes when the scope closes.
   * The stream fails when the connection ends.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<AgentEvent, ControlError>, ControlError, Scope.Scope>
  /** `subscribe` as a Stream: subscribes when it starts running. */
  readonly events: Stream.Stream<AgentEvent, ControlError>
  /** Completes when the connection has ended (the agent stopped, or the client's scope closed). */
  readonly closed: Effect.Effect<void>
}

/** Responses can be large (a history page of 1000 long messages): the client reads lines up to 256 MiB. */
const MAX_RESPONSE_LINE_BYTES = 256 * 1024 * 1024

interface Pending {
  readonly deferred: Deferred.Deferred<unknown, ControlError>
  /** Runs in the reader, before the caller resumes. */
  readonly onResult?: (raw: unknown) => void
}

type Delivery = Either.Either<unknown, ControlError>

const rpcError = (error: RpcErrorObject): ControlError => {
  const agentReason = agentErrorReasonOf(error.code)
  return new ControlError({
    reason: "Rpc",
    message: error.message,
    code: error.code,
    ...(agentReason === undefined ? {} : { agentReason })
  })
}

const open = (socketPath: string): Effect.Effect<Net.Socket, ControlError> =>
  Effect.async<Net.Socket, ControlError>((resume) => {
    const tooLong = checkSocketPathLength(socketPath)
    if (tooLong !== undefined) return resume(Effect.fail(tooLong))
    const socket = Net.connect({ path: socketPath, allowHalfOpen: true })
    const onError = (e: NodeJS.ErrnoException) => {
      socket.destroy()
      if (e.code === "ENOENT" || e.code === "ECONNREFUSED" || e.code === "ENOTSOCK")
        return resume(Effect.fail(noAgent(socketPath, e)))
      resume(
        Effect.fail(
          new ControlError({
            reason: "Connection",
            message:
              e.code === "EACCES" || e.code === "EPERM"
                ? `permission denied on ${socketPath}: the agent belongs to another user; run this command as that user`
                : `cannot connect to ${socketPath}: ${e.message}`,
            cause: e
          })
        )
      )
    }
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      socket.on("error", () => {})
      resume(Effect.succeed(socket))
    })
    return Effect.sync(() => socket.destroy())
  })

export const connect = (socketPath: string): Effect.Effect<ControlClient, ControlError, Scope.Scope> =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(open(socketPath), (socket) => Effect.sync(() => socket.destroySoon()))
    const lines = new LineSocket(socket, {
      maxLineBytes: MAX_RESPONSE_LINE_BYTES,
      maxPendingWriteBytes: MAX_RESPONSE_LINE_BYTES
    })
    const pending = new Map<number, Pending>()
    const subscriptions = new Map<number, Queue.Queue<Delivery>>()
    const ended = yield* Deferred.make<void>()
    let failure: ControlError | undefined
    let nextId = 1

    const endAll = (error: ControlError) => {
      failure ??= error
      for (const p of pending.values()) Deferred.unsafeDone(p.deferred, Effect.fail(failure))
      pending.clear()
      for (const queue of subscriptions.values()) queue.unsafeOffer(Either.left(failure))
      subscriptions.clear()
      Deferred.unsafeDone(ended, Effect.void)
    }

    const onLine = (line: string) => {
      let message: Record<string, unknown>
      try {
        message = JSON.parse(line)
      } catch {
        return endAll(new ControlError({ reason: "Protocol", message: "the agent sent a line that is not JSON" }))
      }
      if (typeof message !== "object" || message === null) return
      if (message.method === EVENT_METHOD) {
        const params = message.params as { subscription?: unknown; event?: unknown } | undefined
        const queue = typeof params?.subscription === "number" ? subscriptions.get(params.subscription) : undefined
        queue?.unsafeOffer(Either.right(params?.event))
        return
      }
      const id = message.id
      const entry = typeof id === "number" ? pending.get(id) : undefined
      if ("error" in message) {
        const error = Schema.decodeUnknownOption(RpcErrorObject)(message.error)
        const failed =
          error._tag === "Some"
            ? rpcError(error.value)
            : new ControlError({ reason: "Protocol", message: "the agent sent a malformed error" })
        // An error with id null (a busy server, a line it could not read) ends the connection; one for a
        // request nobody waits for (the best-effort unsubscribe) is ignored.
        if (entry === undefined) return id === null || id === undefined ? endAll(failed) : undefined
        pending.delete(id as number)
        Deferred.unsafeDone(entry.deferred, Effect.fail(failed))
        return
      }
      if (entry === undefined) return
      pending.delete(id as number)
      entry.onResult?.(message.result)
      Deferred.unsafeDone(entry.deferred, Effect.succeed(message.result))
    }

    yield* Effect.gen(function* () {
      while (true) {
        const line = yield* lines.next
        if (line === undefined) return endAll(connectionLost())
        onLine(line)
      }
    }).pipe(
      Effect.catchAll((fault) =>
        Effect.sync(() =>
          endAll(
            fault === "Error"
              ? connectionLost()
              : new ControlError({ reason: "Protocol", message: `the agent sent an unreadable line (${fault})` })
          )
        )
      ),
      Effect.ensuring(Effect.sync(() => endAll(connectionLost()))),
      Effect.forkScoped
    )

    const callRaw = (
      method: MethodName,
      params: unknown,
      onResult?: (raw: unknown) => void
    ): Effect.Effect<unknown, ControlError> =>
      Effect.gen(function* () {
        const encoded = yield* Schema.encode(Methods[method].params as unknown as Schema.Schema<unknown, unknown>)(
          params
        ).pipe(
          Effect.mapError((e) => {
            const first = ParseResult.ArrayFormatter.formatErrorSync(e)[0] ?? { path: [], _tag: "Type" }
            const given = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>
            return new ControlError({
              reason: "Rpc",
              code: ErrorCode.InvalidParams,
              message: paramSentence(method, { path: first.path, tag: first._tag }, given)
            })
          })
        )
        if (failure !== undefined) return yield* failure
        const id = nextId++
        const deferred = yield* Deferred.make<unknown, ControlError>()
        pending.set(id, onResult === undefined ? { deferred } : { deferred, onResult })
        if (!lines.write(JSON.stringify({ jsonrpc: "2.0", id, method, params: encoded }))) {
          pending.delete(id)
          return yield* connectionLost()
        }
        return yield* Deferred.await(deferred).pipe(Effect.onInterrupt(() => Effect.sync(() => pending.delete(id))))
      })

    const call = <M extends MethodName>(method: M, params: ParamsOf<M>): Effect.Effect<ResultOf<M>, ControlError> =>
      Effect.flatMap(callRaw(method, params), (raw) =>
        Schema.decodeUnknown(Methods[method].result as unknown as Schema.Schema<ResultOf<M>, unknown>)(raw).pipe(
          Effect.mapError(
            (e) =>
              new ControlError({
                reason: "Protocol",
                message: `the agent's ${method} result does not match this client (different versions?): ${e.message}`
              })
          )
        )
      )

    const subscribe: Effect.Effect<Stream.Stream<AgentEvent, ControlError>, ControlError, Scope.Scope> = Effect.gen(
      function* () {
        const queue = yield* Queue.unbounded<Delivery>()
        let subscription: number | undefined
        yield* Effect.acquireRelease(
          callRaw("subscribe", {}, (raw) => {
            const decoded = Schema.decodeUnknownOption(SubscribeResult)(raw)
            if (decoded._tag === "Some") {
              subscription = decoded.value.subscription
              subscriptions.set(subscription, queue)
            }
          }),
          () =>
            Effect.sync(() => {
              if (subscription === undefined || !subscriptions.delete(subscription)) return
              // Best effort: nobody waits for the answer (its id is not pending, so it is ignored).
              lines.write(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "unsubscribe", params: { subscription } }))
            })
        )
        return Stream.fromQueue(queue).pipe(
          Stream.mapEffect((delivery) =>
            Either.isLeft(delivery)
              ? Effect.fail(delivery.left)
              : // An event this client does not know (a newer agent) is skipped.
                Effect.option(decodeEvent(delivery.right))
          ),
          Stream.filterMap((event) => event)
        )
      }
    )

    return { call, subscribe, events: Stream.unwrapScoped(subscribe), closed: Deferred.await(ended) }
  })
