/**
 * The life of a session in the SessionManager (see `SessionManager.ts`): the table of live sessions,
 * installing one (its owner fiber, keep-alive, plugins, periodic status recheck), ending one (`<Close
 * reason/>` bounded in time, then its owner interrupted) and the teardown its owner runs.
 */
import { type Clock, Effect, Exit, Fiber, Scope } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { ChannelError } from "../../../services/SecureChannel.js"
import { SessionError } from "./errors.js"
import type { SessionManagerConfig } from "./managerConfig.js"
import type { PeerLink, SessionPlugin } from "./plugin.js"
import { type AppChannel, keepAlive, reasonOf, receiveLoop, type Session } from "./session.js"

export const makeLifecycle = (config: SessionManagerConfig, scope: Scope.Scope, clock: Clock.Clock) =>
  Effect.gen(function* () {
    const { options, publish } = config
    const plugins: Array<SessionPlugin> = []
    const sessions = new Map<Handle, Session>()
    const lock = yield* Effect.makeSemaphore(1)
    /** Set once the manager closes: no new session from then on. */
    const state = { shuttingDown: false }

    const shutdownError = () =>
      new SessionError({ reason: "ShuttingDown", message: "The agent is stopping; start it again to connect." })

    /**
     * `<Close reason/>`, given at most `closeTimeout` to leave (a peer that stopped reading must not
     * hold a teardown). Usually done within a few yields; only then is a timer armed, which keeps
     * simulations on the TestClock free of one stale timer per closed session.
     */
    const boundedClose = (channel: AppChannel, wireReason?: string) =>
      Effect.gen(function* () {
        // Interruptible even when called from a teardown, so that the time limit can stop it.
        const fiber = yield* Effect.fork(Effect.interruptible(channel.close(wireReason)))
        for (let i = 0; i < 32 && fiber.unsafePoll() === null; i++) yield* Effect.yieldNow()
        if (fiber.unsafePoll() !== null) return
        const done = yield* Effect.timeout(Fiber.await(fiber), options.closeTimeoutMs).pipe(Effect.option)
        if (done._tag === "None") yield* Fiber.interrupt(fiber)
      })

    /** Sends `<Close reason/>` (bounded in time) and interrupts the owner, whose teardown does the rest. */
    const endSession = (session: Session, reason: string, wireReason?: string) =>
      Effect.gen(function* () {
        session.closeReason ??= reason
        yield* boundedClose(session.channel, wireReason)
        if (session.owner !== undefined) yield* Fiber.interruptFork(session.owner)
      })

    /** Closes a channel that will not become a session, and its scope. */
    const discard = (channel: AppChannel, channelScope: Scope.CloseableScope, wireReason: string) =>
      Effect.zipRight(boundedClose(channel, wireReason), Scope.close(channelScope, Exit.void))

    /** Ends the session's life: runs in its owner fiber once the receive loop is over. */
    const teardown = (session: Session, exit: Exit.Exit<string, ChannelError>) =>
      Effect.gen(function* () {
        const reason = session.closeReason ?? reasonOf(exit)
        const wasCurrent = yield* lock.withPermits(1)(
          Effect.sync(() => {
            if (sessions.get(session.peer) !== session) return false
            sessions.delete(session.peer)
            return true
          })
        )
        if (wasCurrent) yield* down(session.peer, reason, session.link)
        yield* boundedClose(session.channel)
        yield* Scope.close(session.scope, Exit.void)
      })

    const down = (peer: Handle, reason: string, link: PeerLink) =>
      Effect.zipRight(
        Effect.forEach(plugins, (p) => p.onSessionDown(peer, link), { discard: true }),
        publish({ _tag: "agent.SessionDown", peer, reason })
      )

    /**
     * PROTOCOL.md §13.6.3: a live session's certificate is checked again when the verdict that admitted
     * it runs out (the staple's nextUpdate), so a peer revoked without any watch is closed within the
     * staple lifetime (`<Close reason="certificate_revoked"/>`).
     */
    const recheck = (session: Session, firstUntil: number) =>
      Effect.gen(function* () {
        const gate = config.peerStatus
        const certificate = session.channel.peer.certificate
        if (gate === undefined || certificate === undefined) return
        let until = firstUntil
        for (;;) {
          yield* Effect.sleep(Math.max(1000, until - clock.unsafeCurrentTimeMillis()))
          const again = yield* gate.check(certificate, undefined)
          if (again._tag === "Good") {
            until = again.until
            continue
          }
          yield* Effect.logWarning(`agent: closing the session with ${session.peer}: ${again.message}`)
          return yield* endSession(session, again.message, again.wireReason)
        }
      })

    /** Makes `session` the peer's session and starts its fibers (under the lock). */
    const install = (session: Session) =>
      Effect.gen(function* () {
        sessions.set(session.peer, session)
        session.owner = yield* Effect.forkIn(
          Effect.onExit(receiveLoop(session, plugins), (exit) => teardown(session, exit)).pipe(Effect.ignore),
          scope
        )
        yield* Effect.forkIn(keepAlive(session, options, endSession), session.scope)
        for (const plugin of plugins) yield* Effect.forkIn(plugin.onSessionUp(session.link), session.scope)
        yield* publish({ _tag: "agent.SessionUp", session: session.summary() })
      })

    return { plugins, sessions, lock, state, shutdownError, endSession, discard, down, recheck, install }
  })

export type Lifecycle = Effect.Effect.Success<ReturnType<typeof makeLifecycle>>
