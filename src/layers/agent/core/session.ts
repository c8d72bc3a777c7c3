/**
 * One live session with a peer (issue 4, section 1): its channel, its scope, the fiber that owns it
 * (receive loop + teardown), keep-alive and idle bookkeeping, and the link that plugins use.
 */
import { Cause, type Clock, Duration, Effect, Exit, type Fiber, Option, type Scope } from "effect"
import type { Fingerprint, Handle, Role } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { SessionSummary } from "../../../services/Agent.js"
import type { ChannelError, SecureChannel } from "../../../services/SecureChannel.js"
import type { ResolvedOptions } from "./options.js"
import type { PeerLink, SessionPlugin } from "./plugin.js"

export type AppChannel = SecureChannel<AppMessage, AppMessage>

/** Keep-alive records: they keep a session alive but are not "application" activity. */
export const isKeepAlive = (m: AppMessage) => m._tag === "e2e.Ping" || m._tag === "e2e.Pong"

export class Session {
  /** Last time any record arrived. */
  lastReceived: number
  /** Last application message or data record, either way. */
  lastApp: number
  /** Last `<Ping/>` we sent. */
  lastPing = 0
  /** Why we are ending it (set by whoever closes it; read by the teardown). */
  closeReason: string | undefined
  /** The fiber that runs the receive loop and tears the session down when it ends. */
  owner: Fiber.RuntimeFiber<void> | undefined
  readonly link: PeerLink

  constructor(
    readonly id: number,
    readonly peer: Handle,
    readonly fingerprint: Fingerprint,
    readonly channel: AppChannel,
    readonly scope: Scope.CloseableScope,
    readonly since: number,
    private readonly clock: Clock.Clock
  ) {
    this.lastReceived = since
    this.lastApp = since
    const touch = (m: AppMessage) => {
      if (!isKeepAlive(m)) this.lastApp = clock.unsafeCurrentTimeMillis()
    }
    this.link = {
      peer,
      channel,
      send: (m) => Effect.tap(channel.send(m), () => touch(m)),
      sendData: (data) =>
        Effect.tap(channel.sendData(data), () => {
          this.lastApp = clock.unsafeCurrentTimeMillis()
        })
    }
  }

  get role(): Role {
    return this.channel.session.role
  }

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  summary(): SessionSummary {
    return {
      peer: this.peer,
      role: this.role,
      remote: this.channel.session.remote,
      since: this.since,
      fingerprint: this.fingerprint,
      sessionCode: this.channel.session.verificationCode
    }
  }
}

/** What the keep-alive loop decides at one moment. */
export type KeepAliveStep =
  | { readonly _tag: "Dead" }
  | { readonly _tag: "Idle" }
  | { readonly _tag: "Wait"; readonly ping: boolean; readonly untilMs: number }

/**
 * Keep-alive (issue 4, section 1): `<Ping/>` after `keepAlive` without a record from the peer (and
 * again every `keepAlive` while it stays silent); dead after `deadAfter` without any record; idle
 * (closed) after `idleClose` without an application message. Pure over the session's stamps.
 */
export const keepAliveStep = (
  s: { readonly lastReceived: number; readonly lastApp: number; readonly lastPing: number },
  now: number,
  o: Pick<ResolvedOptions, "keepAliveMs" | "deadAfterMs" | "idleCloseMs">
): KeepAliveStep => {
  if (now - s.lastReceived >= o.deadAfterMs) return { _tag: "Dead" }
  if (now - s.lastApp >= o.idleCloseMs) return { _tag: "Idle" }
  const silent = now - s.lastReceived >= o.keepAliveMs
  const ping = silent && now - s.lastPing >= o.keepAliveMs
  const lastPing = ping ? now : s.lastPing
  const nextPing = silent ? lastPing + o.keepAliveMs : s.lastReceived + o.keepAliveMs
  const untilMs = Math.min(nextPing, s.lastReceived + o.deadAfterMs, s.lastApp + o.idleCloseMs)
  return { _tag: "Wait", ping, untilMs: Math.max(untilMs, now + 1) }
}

/**
 * Asks the plugins in order; a file offer nobody takes is declined. Keep-alives only stamp the session:
 * the channel has already answered a `<Ping/>` (PROTOCOL.md §11.10.2).
 */
const dispatch = (session: Session, plugins: ReadonlyArray<SessionPlugin>, message: AppMessage) =>
  Effect.gen(function* () {
    if (isKeepAlive(message)) return
    for (const plugin of plugins) if (yield* plugin.onMessage(session.link, message)) return
    // No file transfer feature: say so rather than leave the sender waiting.
    if (message._tag === "e2e.FileOffer")
      yield* Effect.ignore(session.link.send({ _tag: "e2e.FileCancel", id: message.id, reason: "unsupported" }))
    else yield* Effect.logDebug(`agent: no plugin handled ${message._tag} from ${session.peer}`)
  })

/**
 * The session's receive loop: every record to the plugins, in order (one at a time, so a message is
 * stored and acknowledged before the next is read). Ends with the reason when the peer closes.
 */
export const receiveLoop = (
  session: Session,
  plugins: ReadonlyArray<SessionPlugin>
): Effect.Effect<string, ChannelError> => {
  const link = session.link
  /**
   * A data record to every plugin from `from` on, in order: by `tryData` where it takes it, else by
   * `onData` (and the plugins after it only once that finished). A file's 64 KiB records mostly pass
   * with no effect at all (issue 15).
   */
  const deliver = (data: Uint8Array, from: number): Effect.Effect<void> => {
    for (let i = from; i < plugins.length; i++) {
      const plugin = plugins[i]!
      if (plugin.tryData?.(link, data) === true) continue
      const rest = i + 1
      const handled = plugin.onData(link, data)
      return rest === plugins.length
        ? handled
        : Effect.zipRight(
            handled,
            Effect.suspend(() => deliver(data, rest))
          )
    }
    return Effect.void
  }
  // A loop of `flatMap`s rather than a generator: one step fewer per record.
  const loop: Effect.Effect<string, ChannelError> = Effect.flatMap(session.channel.receive, (inbound) => {
    const now = session.now()
    session.lastReceived = now
    if (inbound._tag === "Closed")
      return Effect.succeed(inbound.reason === undefined ? "closed by peer" : `closed by peer: ${inbound.reason}`)
    if (inbound._tag === "Data") {
      session.lastApp = now
      const delivered = deliver(inbound.data, 0)
      return delivered === Effect.void ? loop : Effect.zipRight(delivered, loop)
    }
    if (!isKeepAlive(inbound.message)) session.lastApp = now
    return Effect.zipRight(dispatch(session, plugins, inbound.message), loop)
  })
  return loop
}

/** Pings a quiet peer; ends the session (through `end`) when the peer is dead or the session idle. */
export const keepAlive = (
  session: Session,
  options: Pick<ResolvedOptions, "keepAliveMs" | "deadAfterMs" | "idleCloseMs">,
  end: (session: Session, reason: string, wireReason: string) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (;;) {
      const step = keepAliveStep(session, session.now(), options)
      if (step._tag === "Dead") return yield* end(session, "the peer stopped answering", "timeout")
      if (step._tag === "Idle") return yield* end(session, "idle", "idle")
      if (step.ping) {
        session.lastPing = session.now()
        yield* Effect.ignore(session.channel.send({ _tag: "e2e.Ping" }))
      }
      yield* Effect.sleep(Duration.millis(Math.max(1, step.untilMs - session.now())))
    }
  })

/** Why a receive loop ended, in words. */
export const reasonOf = (exit: Exit.Exit<string, ChannelError>): string =>
  Exit.match(exit, {
    onSuccess: (reason) => reason,
    onFailure: (cause) => Option.match(Cause.failureOption(cause), { onNone: () => "ended", onSome: (e) => e.message })
  })
