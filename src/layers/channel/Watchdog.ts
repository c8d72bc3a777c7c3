/**
 * One timer per connection for all of its limits (PROTOCOL.md §3: every wait is bounded): the
 * handshake deadline, then the idle limit on `receive` and the write limit on sends.
 *
 * Why not `Effect.timeoutFail` around each wait: it races two forked fibers every time (~24 µs per
 * record, measured: a third of a small message's round trip) and keeps three suspended fibers per
 * idle connection. Here one fiber per connection sleeps on the Effect `Clock` (so `TestClock` drives
 * it); a wait only stamps the time it started. On expiry `onExpire` runs; it tears the connection
 * down, so the read or write in progress fails at once and its owner reports the timeout.
 *
 * Exactness: once established, the fiber never sleeps past `now + min(idle, write limit)`, and a wait
 * that starts later cannot end before that, so no deadline is missed and nothing must wake the
 * fiber early. An idle connection costs one wake-up per that period. The one exception is the switch
 * from the handshake (the fiber may sleep until the handshake deadline): `establish` restarts the
 * fiber when a limit is shorter than what is left of it.
 */
import { type Clock, Duration, Effect, Fiber, type Scope } from "effect"

export type Expiry = "handshake" | "idle" | "write"

export interface EstablishedLimits {
  readonly idleTimeout: Duration.Duration
  readonly writeTimeout: Duration.Duration
}

export class Watchdog {
  /** Set once a limit has passed. */
  expired: Expiry | undefined
  private phase: "handshake" | "established" | "off" = "handshake"
  private readonly handshakeDeadline: number
  private idleMs = 0
  private writeMs = 0
  /** When the receive in progress began or last got a record; `undefined` when nobody receives. */
  private readingSince: number | undefined
  /** When the write in progress began; `undefined` when no write waits. */
  private writingSince: number | undefined
  private fiber: Fiber.RuntimeFiber<void> | undefined
  private sleepingUntil = 0

  private constructor(
    private readonly clock: Clock.Clock,
    handshakeMs: number,
    private onExpire: (expiry: Expiry) => Effect.Effect<void>
  ) {
    this.handshakeDeadline = clock.unsafeCurrentTimeMillis() + handshakeMs
  }

  /** Starts the handshake deadline now; the timer fiber lives in the current scope at most. */
  static start(
    handshakeTimeout: Duration.Duration,
    onExpire: (expiry: Expiry) => Effect.Effect<void>
  ): Effect.Effect<Watchdog, never, Scope.Scope> {
    return Effect.flatMap(Effect.clock, (clock) => {
      const watchdog = new Watchdog(clock, Duration.toMillis(handshakeTimeout), onExpire)
      return Effect.as(watchdog.fork(), watchdog)
    })
  }

  private fork(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.map(Effect.forkScoped(this.run()), (fiber) => {
      this.fiber = fiber
    })
  }

  private expire(expiry: Expiry): Effect.Effect<void> {
    this.expired = expiry
    this.phase = "off"
    this.fiber = undefined
    return this.onExpire(expiry)
  }

  private run(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const now = this.clock.unsafeCurrentTimeMillis()
      let due: number
      if (this.phase === "off") return Effect.void
      if (this.phase === "handshake") {
        due = this.handshakeDeadline
        if (now >= due) return this.expire("handshake")
      } else {
        const writeDue = this.writingSince === undefined ? Infinity : this.writingSince + this.writeMs
        if (now >= writeDue) return this.expire("write")
        const readDue = this.readingSince === undefined ? Infinity : this.readingSince + this.idleMs
        if (now >= readDue) return this.expire("idle")
        due = Math.min(writeDue, readDue, now + Math.max(1, Math.min(this.idleMs, this.writeMs)))
      }
      this.sleepingUntil = due
      return Effect.zipRight(Effect.sleep(Duration.millis(due - now)), this.run())
    })
  }

  /** The handshake completed: from now on the idle and write limits apply. */
  establish(
    limits: EstablishedLimits,
    onExpire: (expiry: Expiry) => Effect.Effect<void>
  ): Effect.Effect<void, never, Scope.Scope> {
    return Effect.suspend(() => {
      if (this.phase !== "handshake") return Effect.void
      this.phase = "established"
      this.idleMs = Duration.toMillis(limits.idleTimeout)
      this.writeMs = Duration.toMillis(limits.writeTimeout)
      this.onExpire = onExpire
      const fiber = this.fiber
      const latest = this.clock.unsafeCurrentTimeMillis() + Math.min(this.idleMs, this.writeMs)
      if (fiber === undefined || latest >= this.sleepingUntil) return Effect.void
      return Effect.zipRight(Fiber.interruptFork(fiber), this.fork())
    })
  }

  /** A receive begins, or got a record and goes on waiting: the idle limit counts from now. */
  reading(): void {
    this.readingSince = this.clock.unsafeCurrentTimeMillis()
  }

  /** The receive is over. */
  readDone(): void {
    this.readingSince = undefined
  }

  /** A write begins: the write limit counts from now. */
  writing(): void {
    this.writingSince = this.clock.unsafeCurrentTimeMillis()
  }

  writeDone(): void {
    this.writingSince = undefined
  }

  /** No more limits (the channel ended): the fiber exits when it next wakes, or with its scope. */
  disarm(): void {
    this.phase = "off"
  }

  /** No more limits (the handshake failed): ends the timer fiber now. */
  stop(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.phase = "off"
      const fiber = this.fiber
      this.fiber = undefined
      return fiber === undefined ? Effect.void : Fiber.interruptFork(fiber)
    })
  }
}
