/**
 * One IRP connection after the handshake (PROTOCOL.md §17): read a request, check it (rate limit, live
 * revocation and expiry of the holder's certificate, the access table), act, answer, log one line.
 * Reads (Lookup, Status, Watch, Ping…) and registrations are answered inline, in order; the other requests
 * that write or sign run in fibers of their own, concurrently up to a bound; past it the loop stops reading, so TCP back-pressure,
 * not memory, absorbs a client that pipelines too much. Every refusal is an answer and the
 * connection stays usable; only the channel ends it (a malformed frame, a non-XML record, a Close).
 *
 * The per-request path is kept to the effects that do I/O: the checks, a cached Lookup, Ping, Watch and
 * refusals are plain functions (`precheck`, `answerAtOnce`), the log line goes to the synchronous
 * `RequestLog` port, and the send is an effect only when the channel cannot take the answer at once
 * (`SecureChannel.trySend`). A busy server answers most requests that way: between two reads of the
 * connection the loop then takes no effect step at all (issue 15).
 */
import { Cause, Effect, FiberSet, Option, type Scope } from "effect"
import { formatAddress } from "../../../domain/brands.js"
import type { VerifiedCertificate } from "../../../domain/cert/verify.js"
import {
  type AccessPolicy,
  authorize,
  authorizeFederated,
  type Caller,
  callerName
} from "../../../domain/irp/access.js"
import type { SerialHex } from "../../../domain/irp/certificates.js"
import type { IrpRequest, IrpServerInbound, IrpServerMessage } from "../../../domain/irp/messages.js"
import type { SecureChannel } from "../../../services/SecureChannel.js"
import {
  type Answers,
  act,
  answerAtOnce,
  type ConnectionContext,
  Refused,
  refusalAnswer,
  type ServerContext
} from "./handlers.js"
import { type RateLimiter, requestCost } from "./rateLimiter.js"
import { isRelayed } from "./relay.js"
import type { RequestLogService } from "./requestLog.js"
import { makeConnectionWatches, type WatchHub } from "./watches.js"

export interface SessionLimits extends AccessPolicy {
  readonly maxInFlightPerConnection: number
  readonly maxWatchesPerConnection: number
}

export interface SessionContext extends ServerContext {
  readonly limits: SessionLimits
  readonly limiter: RateLimiter
  readonly hub: WatchHub
  readonly log: RequestLogService
  /** The other domain whose IRP a verified certificate names (PROTOCOL.md §22.2.5; `federationCallers.ts`). */
  readonly federationOf?: ((certificate: VerifiedCertificate) => string | undefined) | undefined
}

export type IrpServerChannel = SecureChannel<IrpServerInbound, IrpServerMessage>

/**
 * Who the handshake says is on the other end; `undefined` for a certificate that names no handle and is
 * no other domain's IRP (`federationOf`, PROTOCOL.md §22.2.5).
 */
export const callerOf = (
  channel: IrpServerChannel,
  federationOf?: (certificate: VerifiedCertificate) => string | undefined
): Caller | undefined => {
  const source = channel.session.remote
  const cert = channel.peer.certificate
  if (cert === undefined) return { _tag: "Anonymous", source }
  if (cert.handle === undefined) {
    const domain = federationOf?.(cert)
    return domain === undefined ? undefined : { _tag: "Federation", source, domain, notAfter: cert.notAfter.getTime() }
  }
  return {
    _tag: "Holder",
    source,
    handle: cert.handle,
    serial: cert.serial as SerialHex,
    notAfter: cert.notAfter.getTime()
  }
}

/**
 * Refusals that come before the access table: the rate limit, then the holder's live certificate state,
 * then the schema and the table. Synchronous: it runs for every request, so it allocates no effect.
 */
const precheck = (
  ctx: SessionContext,
  caller: Caller,
  inbound: IrpServerInbound,
  now: number
): Refused | IrpRequest => {
  const wait = ctx.limiter.takeAt(caller, requestCost(inbound._tag), now)
  if (wait !== undefined)
    return new Refused({
      code: "rate_limited",
      message: `Too many requests from ${caller._tag === "Anonymous" ? "this address" : callerName(caller)}: wait ${Math.ceil(wait / 1000)} s before the next one.`,
      retryAfterMs: wait
    })
  if (caller._tag === "Holder") {
    // PROTOCOL.md §17.3.1 step 2: a revoked holder is refused even though its chain verified at the handshake.
    if (ctx.revocations.isRevoked(caller.serial))
      return new Refused({
        code: "unauthorized",
        message: `Your certificate (serial ${caller.serial}) has been revoked: enrol again with a new token from the operator.`
      })
    if (caller.notAfter <= now)
      return new Refused({
        code: "unauthorized",
        message: "Your certificate has expired: enrol again with a new token from the operator."
      })
  }
  if (caller._tag === "Federation" && caller.notAfter <= now)
    return new Refused({
      code: "unauthorized",
      message: `The public certificate of irp.${caller.domain} has expired: connect again with its renewed one.`
    })
  if (inbound._tag === "irp.InvalidRequest")
    return new Refused({
      code: "bad_request",
      // One sentence that names what to fix (issue 10, section 6); schema refusals name the element.
      message: inbound.message.startsWith("<") ? inbound.message : `<${inbound.element}>: ${inbound.message}`
    })
  const refusal =
    authorize(inbound._tag, caller, ctx.limits) ??
    (caller._tag === "Federation" ? authorizeFederated(inbound, caller, ctx.domain, ctx.federationPolicy) : undefined)
  return refusal === undefined ? inbound : new Refused(refusal)
}

/**
 * Requests served in a fiber of their own, so that the connection's next requests are read meanwhile:
 * the ones that write (a durable commit), sign (a certificate, a CRL) or may be slow. The others are
 * answered inline, in order: forking a fiber costs more than they do (docs/BENCHMARKS.md, IRP).
 *
 * `Register` is answered inline too (issue 15): it is the request a busy server gets most after Lookup
 * (every device renews its lease), a device sends one at a time, and the fork cost about a sixth of its
 * server CPU (measured). The connection's next requests wait for its batch's commit (one group commit,
 * PROTOCOL.md §17.1.7); other connections' registrations share that batch as before.
 */
const FORKED: ReadonlySet<IrpServerInbound["_tag"]> = new Set([
  "irp.Enroll",
  "irp.Renew",
  "irp.Deregister",
  "irp.Revoke",
  "irp.Crl"
])

/** `served`, then `next`; `undefined` when nothing was left to serve (the answer already went out at once). */
const andThen = <E>(served: Effect.Effect<void> | undefined, next: Effect.Effect<void, E>) =>
  served === undefined ? undefined : Effect.zipRight(served, next)

/** Serves the channel until it ends; never fails. */
export const serveChannel = (ctx: SessionContext, channel: IrpServerChannel): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const caller = callerOf(channel, ctx.federationOf)
    if (caller === undefined) return yield* channel.close("no_handle")
    const watches = yield* makeConnectionWatches(ctx.hub, channel.send, ctx.limits.maxWatchesPerConnection)
    const conn: ConnectionContext = { caller, watches }
    const inFlight = yield* Effect.makeSemaphore(ctx.limits.maxInFlightPerConnection)
    const requests = yield* FiberSet.make<void, never>()
    const { log } = ctx
    const peer = callerName(caller)
    const remote = formatAddress(caller.source)
    // Read once: the per-request path takes the time without an effect (TestClock still drives it).
    const clock = yield* Effect.clock

    const logged = (inbound: IrpServerInbound, started: number, first: IrpServerMessage | undefined): void =>
      log.write({
        peer,
        remote,
        request: inbound._tag === "irp.InvalidRequest" ? `invalid:${inbound.element}` : inbound._tag.slice(4),
        id: inbound.id ?? "-",
        outcome: first?._tag === "irp.Error" ? first.code : "ok",
        ms: clock.unsafeCurrentTimeMillis() - started
      })
    /**
     * Sends the answers (a failed send means the connection is gone: the read loop sees that too), then
     * logs. `undefined` when that is already done: one answer the channel took at once (`trySend`, the
     * path of nearly every request), which needs no effect.
     */
    const reply = (inbound: IrpServerInbound, started: number, answers: Answers): Effect.Effect<void> | undefined => {
      const first = answers[0]
      if (answers.length === 1 && channel.trySend?.(first!) === true) {
        logged(inbound, started, first)
        return undefined
      }
      const after = () => logged(inbound, started, first)
      const sent =
        answers.length === 1 ? channel.send(first!) : Effect.forEach(answers, channel.send, { discard: true })
      return Effect.match(sent, { onFailure: after, onSuccess: after })
    }
    const refused = (inbound: IrpServerInbound, started: number, r: Refused): Effect.Effect<void> | undefined => {
      if (r.code !== "internal") return reply(inbound, started, [refusalAnswer(inbound.id, r)])
      return Effect.zipRight(
        Effect.logError("IRP request failed", Cause.fail(r.cause ?? r.message)),
        Effect.suspend(() => reply(inbound, started, [refusalAnswer(inbound.id, r)]) ?? Effect.void)
      )
    }
    /**
     * Serves one request: at once when it needs no effect (`answerAtOnce`), else through `act`. `undefined`
     * when the request was answered and logged without an effect; otherwise the effect serves it and then
     * goes on with `next` (the read loop for a request served inline), from within its own last step: an
     * answer sent at once (`trySend`) leaves no step between the request's outcome and `next` (issue 15).
     */
    const serveOne = <E>(
      inbound: IrpServerInbound,
      next: Effect.Effect<void, E>
    ): Effect.Effect<void, E> | undefined => {
      const started = clock.unsafeCurrentTimeMillis()
      const checked = precheck(ctx, caller, inbound, started)
      if (checked instanceof Refused) return andThen(refused(inbound, started, checked), next)
      const immediate = answerAtOnce(ctx, conn, checked, started)
      if (immediate instanceof Refused) return andThen(refused(inbound, started, immediate), next)
      if (immediate !== undefined) return andThen(reply(inbound, started, immediate), next)
      return Effect.matchCauseEffect(act(ctx, conn, checked, started), {
        onFailure: (cause) => {
          const failure = Cause.failureOption(cause)
          if (Option.isSome(failure)) return andThen(refused(inbound, started, failure.value), next) ?? next
          if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
          return (
            andThen(
              refused(
                inbound,
                started,
                new Refused({
                  code: "internal",
                  message: "The server failed; try again later.",
                  cause: Cause.squash(cause)
                })
              ),
              next
            ) ?? next
          )
        },
        onSuccess: (answers) => andThen(reply(inbound, started, answers), next) ?? next
      })
    }

    // A recursive `flatMap` rather than a generator: the loop runs once per request, and each `yield*` of
    // a generator costs a step of its own on top of the `flatMap` it stands for (issue 15).
    const loop: Effect.Effect<void, unknown> = Effect.flatMap(channel.receive, (inbound) => {
      if (inbound._tag === "Closed") return Effect.void
      // PROTOCOL.md §17.1.5: data records have no place on port 4604; a protocol violation ends the
      // connection with the alert unexpected_message, not a clean <Close/> (which would say all went well).
      if (inbound._tag === "Data")
        return channel.abort === undefined
          ? channel.close("unexpected_data")
          : channel.abort("unexpected_message", "a data record on the IRP port")
      const message = inbound.message
      // A request relayed to another domain may take seconds (§22.6): it must not hold up the next ones.
      if (!FORKED.has(message._tag) && !isRelayed(ctx, message)) return serveOne(message, loop) ?? loop
      // `serveOne` is called once a slot is free, as before: its checks (the rate limit) and its start time
      // belong to when the request is served, not to when it was read.
      return inFlight
        .take(1)
        .pipe(
          Effect.zipRight(
            Effect.suspend(() =>
              FiberSet.run(
                requests,
                Effect.ensuring(serveOne(message, Effect.void) ?? Effect.void, inFlight.release(1))
              )
            )
          ),
          Effect.zipRight(loop)
        )
    })
    yield* loop.pipe(
      Effect.catchAll((e) =>
        Effect.logDebug("irp connection ended").pipe(
          Effect.annotateLogs({ peer, remote, reason: e instanceof Error ? e.message : String(e) })
        )
      )
    )
  })
