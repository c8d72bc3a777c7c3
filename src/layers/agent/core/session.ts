/**
 * One live session with a peer (issue 4, section 1): its channel, its scope, the fiber that owns it
 * (receive loop + teardown), keep-alive and idle bookkeeping, and the link that plugins use.
 */
import { type Clock, Duration, Effect, type Fiber, type Scope } from "effect"
import type { Fingerprint, Handle, Role } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { SessionSummary } from "../../../services/Agent.js"
import type { SecureChannel } from "../../../services/SecureChannel.js"
import type { ResolvedOptions } from "./options.js"
import type { PeerLink } from "./plugin.js"

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
      verificationCode: this.channel.session.verificationCode
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

export const sleepUntil = (clock: Clock.Clock, untilMs: number) =>
  Effect.sleep(Duration.millis(Math.max(1, untilMs - clock.unsafeCurrentTimeMillis())))
