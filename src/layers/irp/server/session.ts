/**
 * One IRP connection after the handshake (brief section 8): read a request, check it (rate limit, live
 * revocation and expiry of the holder's certificate, the access table), act, answer, log one line.
 * Requests of one connection run concurrently up to a bound; past it the loop stops reading, so TCP
 * back-pressure, not memory, absorbs a client that pipelines too much. Every refusal is an answer and the
 * connection stays usable; only the channel ends it (a malformed frame, a non-XML record, a Close).
 */
import { Cause, Clock, Effect, FiberSet, type Scope } from "effect"
import { formatAddress } from "../../../domain/brands.js"
import { type AccessPolicy, authorize, type Caller, callerName } from "../../../domain/irp/access.js"
import type { SerialHex } from "../../../domain/irp/certificates.js"
import type { IrpServerInbound, IrpServerMessage } from "../../../domain/irp/messages.js"
import type { SecureChannel } from "../../../services/SecureChannel.js"
import { act, type ConnectionContext, Refused, refusalAnswer, type ServerContext } from "./handlers.js"
import { type RateLimiter, requestCost } from "./rateLimiter.js"
import { makeConnectionWatches, type WatchHub } from "./watches.js"

export interface SessionLimits extends AccessPolicy {
  readonly maxInFlightPerConnection: number
  readonly maxWatchesPerConnection: number
}

export interface SessionContext extends ServerContext {
  readonly limits: SessionLimits
  readonly limiter: RateLimiter
  readonly hub: WatchHub
}

export type IrpServerChannel = SecureChannel<IrpServerInbound, IrpServerMessage>

/** Who the handshake says is on the other end; `undefined` for a certificate that names no handle. */
export const callerOf = (channel: IrpServerChannel): Caller | undefined => {
  const source = channel.session.remote
  const cert = channel.peer.certificate
  if (cert === undefined) return { _tag: "Anonymous", source }
  if (cert.handle === undefined) return undefined
  return {
    _tag: "Holder",
    source,
    handle: cert.handle,
    serial: cert.serial as SerialHex,
    notAfter: cert.notAfter.getTime()
  }
}

/** Refusals that come before the access table: the rate limit, then the holder's live certificate state. */
const precheck = (ctx: SessionContext, caller: Caller, inbound: IrpServerInbound, now: number) =>
  Effect.gen(function* () {
    const wait = yield* ctx.limiter.take(caller, requestCost(inbound._tag))
    if (wait !== undefined)
      return yield* new Refused({
        code: "rate_limited",
        message: `Too many requests from ${caller._tag === "Holder" ? caller.handle : "this address"}: wait ${Math.ceil(wait / 1000)} s before the next one.`,
        retryAfterMs: wait
      })
    if (caller._tag === "Holder") {
      // Brief section 8: a revoked holder is refused even though its chain verified at the handshake.
      if (ctx.revocations.isRevoked(caller.serial))
        return yield* new Refused({
          code: "unauthorized",
          message: `Your certificate (serial ${caller.serial}) has been revoked: enrol again with a new token from the operator.`
        })
      if (caller.notAfter <= now)
        return yield* new Refused({
          code: "unauthorized",
          message: "Your certificate has expired: enrol again with a new token from the operator."
        })
    }
    if (inbound._tag === "irp.InvalidRequest")
      return yield* new Refused({
        code: "bad_request",
        message: `The request <${inbound.element}> was refused: ${inbound.message}`
      })
    const refusal = authorize(inbound._tag, caller, ctx.limits)
    if (refusal !== undefined) return yield* new Refused(refusal)
    return inbound
  })

/** Serves the channel until it ends; never fails. */
export const serveChannel = (ctx: SessionContext, channel: IrpServerChannel): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const caller = callerOf(channel)
    if (caller === undefined) return yield* channel.close("no_handle")
    const watches = yield* makeConnectionWatches(ctx.hub, channel.send, ctx.limits.maxWatchesPerConnection)
    const conn: ConnectionContext = { caller, watches }
    const inFlight = yield* Effect.makeSemaphore(ctx.limits.maxInFlightPerConnection)
    const requests = yield* FiberSet.make<void, never>()
    const peer = callerName(caller)
    const remote = formatAddress(caller.source)

    const serveOne = (inbound: IrpServerInbound) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const answers = yield* precheck(ctx, caller, inbound, started).pipe(
          Effect.flatMap((request) => act(ctx, conn, request)),
          Effect.catchAllDefect((defect) =>
            Effect.fail(
              new Refused({ code: "internal", message: "The server failed; try again later.", cause: defect })
            )
          ),
          Effect.catchAll((r) => {
            const logCause =
              r.code === "internal"
                ? Effect.logError("IRP request failed", Cause.fail(r.cause ?? r.message))
                : Effect.void
            return Effect.as(logCause, [refusalAnswer(inbound.id, r)])
          })
        )
        const outcome = answers[0]?._tag === "irp.Error" ? answers[0].code : "ok"
        // A failed send means the connection is gone; the read loop sees that too.
        yield* Effect.forEach(answers, channel.send, { discard: true }).pipe(Effect.ignore)
        const ms = (yield* Clock.currentTimeMillis) - started
        yield* Effect.log("irp request").pipe(
          Effect.annotateLogs({
            peer,
            remote,
            request: inbound._tag === "irp.InvalidRequest" ? `invalid:${inbound.element}` : inbound._tag.slice(4),
            id: inbound.id ?? "-",
            outcome,
            ms
          })
        )
      })

    const loop: Effect.Effect<void, unknown> = Effect.gen(function* () {
      while (true) {
        const inbound = yield* channel.receive
        if (inbound._tag === "Closed") return
        if (inbound._tag === "Data") return yield* channel.close("unexpected_data")
        yield* inFlight.take(1)
        yield* FiberSet.run(requests, Effect.ensuring(serveOne(inbound.message), inFlight.release(1)))
      }
    })
    yield* loop.pipe(
      Effect.catchAll((e) =>
        Effect.logDebug("irp connection ended").pipe(
          Effect.annotateLogs({ peer, remote, reason: e instanceof Error ? e.message : String(e) })
        )
      )
    )
  })
