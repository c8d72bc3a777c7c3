/**
 * SessionManager (issue 4, section 1; agent architecture note): one session per peer, reused. It
 * accepts on the agent's listeners, dials on demand through the Directory (Happy Eyeballs), pins
 * keys, resolves simultaneous opens (brief section 7), keeps sessions alive, closes idle ones, and
 * hands every inbound record to the plugins.
 *
 * Ownership: every session lives in a scope of its own forked from the manager's; one fiber per
 * session (the "owner", in the manager's scope) runs the receive loop and, when it ends for any
 * reason, tears the session down (plugins told, event published, scope closed, which sends
 * `<Close/>`). Ending a session from elsewhere = `<Close reason/>` then interrupting its owner.
 * Closing the manager closes every session with `<Close/>`.
 */
import { Deferred, Effect, ExecutionStrategy, Exit, Fiber, FiberId, Option, Scope } from "effect"
import { type Fingerprint, formatAddress, type Handle } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { LocalIdentity } from "../../../domain/handshake/parameters.js"
import type { AgentEvent, SessionSummary } from "../../../services/Agent.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { DirectoryService } from "../../../services/Directory.js"
import type { ChannelError, SecureChannelsService } from "../../../services/SecureChannel.js"
import type { Listener } from "../../../services/Transport.js"
import { type AttemptFailure, happyEyeballs } from "./dialer.js"
import { SessionError } from "./errors.js"
import type { ResolvedOptions } from "./options.js"
import type { AgentCore, PeerLink, SessionPlugin } from "./plugin.js"
import { type AppChannel, keepAlive, reasonOf, receiveLoop, Session } from "./session.js"
import { DUPLICATE, KEY_CHANGED, keepWhich } from "./simultaneousOpen.js"

export interface SessionManagerConfig {
  readonly self: Handle
  readonly identity: LocalIdentity
  readonly options: ResolvedOptions
  readonly channels: SecureChannelsService<AppMessage, AppMessage>
  readonly store: AgentStoreService
  readonly directory: DirectoryService
  readonly publish: (event: AgentEvent) => Effect.Effect<void>
}

export interface SessionManager extends AgentCore {
  /** Plugins are asked in the order added; add them before `serve`. */
  readonly addPlugin: (plugin: SessionPlugin) => Effect.Effect<void>
  /** Starts accepting on `listeners` (until the manager closes). */
  readonly serve: (listeners: ReadonlyArray<Listener>) => Effect.Effect<void>
  readonly isUp: (peer: Handle) => boolean
  readonly sessions: Effect.Effect<ReadonlyArray<SessionSummary>>
  /** Ends the session with `peer`, if any, sending `<Close reason/>`. */
  readonly close: (peer: Handle, reason?: string) => Effect.Effect<void>
  /** The serial of the live session's certificate with `peer`, if there is a session. */
  readonly serialOf: (peer: Handle) => string | undefined
  /**
   * The certificate `serial` of `peer` was revoked: if the live session with `peer` runs on it, it ends
   * with the alert `certificate_revoked` (PROTOCOL.md 17.9.3). `true` when a session was ended.
   */
  readonly revoked: (peer: Handle, serial: string) => Effect.Effect<boolean>
}

const describeFailures = (failures: ReadonlyArray<AttemptFailure<ChannelError>>) =>
  failures.map((f) => `${formatAddress(f.address)}: ${f.error.message}`).join("; ")

const REVOKED = "certificate_revoked"

export const make = (config: SessionManagerConfig): Effect.Effect<SessionManager, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { self, options, channels, store, directory, publish } = config
    const clock = yield* Effect.clock
    const outer = yield* Effect.scope
    const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    const plugins: Array<SessionPlugin> = []
    const sessions = new Map<Handle, Session>()
    const dialing = new Map<Handle, Deferred.Deferred<Session, SessionError>>()
    const lock = yield* Effect.makeSemaphore(1)
    const handshakes = yield* Effect.makeSemaphore(Math.max(1, options.maxHandshakes))
    let nextId = 0
    let shuttingDown = false

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
        if (wasCurrent) yield* down(session.peer, reason)
        yield* boundedClose(session.channel)
        yield* Scope.close(session.scope, Exit.void)
      })

    const down = (peer: Handle, reason: string) =>
      Effect.zipRight(
        Effect.forEach(plugins, (p) => p.onSessionDown(peer), { discard: true }),
        publish({ _tag: "agent.SessionDown", peer, reason })
      )

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

    /**
     * A handshake completed (either role): pin the key, record the verification code, resolve a
     * duplicate, install. Returns the peer's session (another one when this one lost).
     */
    const establish = (channel: AppChannel, channelScope: Scope.CloseableScope) =>
      Effect.gen(function* () {
        const peer = channel.peer.handle
        const certificate = channel.peer.certificate
        if (peer === undefined || certificate === undefined) {
          yield* discard(channel, channelScope, "bad_certificate")
          return yield* new SessionError({ reason: "Refused", message: "The peer presented no user certificate." })
        }
        if (shuttingDown) {
          yield* discard(channel, channelScope, "shutdown")
          return yield* shutdownError()
        }
        const now = clock.unsafeCurrentTimeMillis()
        const fingerprint: Fingerprint = certificate.fingerprint
        // Brief section 6: pin on first contact; a changed key is reported, and refused in strict mode.
        const pinned = yield* Effect.either(
          store.pinContact({ handle: peer, fingerprint, now, acceptChange: !options.strictKeys })
        )
        if (pinned._tag === "Left") {
          yield* discard(channel, channelScope, "internal_error")
          return yield* new SessionError({ reason: "Refused", message: pinned.left.message, cause: pinned.left })
        }
        if (pinned.right._tag === "Changed" && !pinned.right.accepted) {
          yield* discard(channel, channelScope, KEY_CHANGED)
          return yield* new SessionError({
            reason: "KeyChanged",
            message: `${peer} presented a new key (${fingerprint}); compare verification codes, then run \`sixchat trust ${peer}\` to accept it.`
          })
        }
        const session = new Session(++nextId, peer, fingerprint, channel, channelScope, now, clock)
        const outcome = yield* lock.withPermits(1)(
          Effect.gen(function* () {
            if (shuttingDown) return { _tag: "Refused" } as const
            const existing = sessions.get(peer)
            if (existing !== undefined) {
              const keep = keepWhich({
                existing: { role: existing.role, establishedAt: existing.since },
                incoming: { role: session.role, establishedAt: now },
                self: config.identity.fingerprint,
                peer: fingerprint,
                windowMs: options.simultaneousWindowMs
              })
              if (keep === "existing") return { _tag: "Lost", winner: existing } as const
              sessions.delete(peer)
              existing.closeReason = "replaced"
              yield* down(peer, "replaced")
              yield* Effect.forkIn(endSession(existing, "replaced", DUPLICATE), scope)
            }
            yield* install(session)
            return { _tag: "Installed" } as const
          })
        )
        switch (outcome._tag) {
          case "Refused":
            yield* discard(channel, channelScope, "shutdown")
            return yield* shutdownError()
          case "Lost":
            yield* discard(channel, channelScope, DUPLICATE)
            return outcome.winner
          case "Installed":
            // The code of the session kept (not of a duplicate), for `sixchat contact show`.
            yield* Effect.ignore(
              store.recordVerificationCode({ handle: peer, code: channel.session.verificationCode, now })
            )
            return session
        }
      })

    const dial = (peer: Handle) =>
      Effect.gen(function* () {
        const location = yield* Effect.mapError(
          directory.lookup(peer),
          (e) => new SessionError({ reason: "Lookup", message: e.message, cause: e })
        )
        if (location.addresses.length === 0)
          return yield* new SessionError({
            reason: "Lookup",
            message: `${peer} has no address registered now; the message stays queued until they come online.`
          })
        const won = yield* Effect.mapError(
          happyEyeballs(location.addresses, options.dialStaggerMs, scope, (address) =>
            channels.dial(address, { _tag: "Handle", handle: peer })
          ),
          (failures) =>
            new SessionError({
              reason: "Unreachable",
              message: `Could not reach ${peer} (${describeFailures(failures)}); the agent retries later.`,
              cause: failures
            })
        )
        return yield* establish(won.value, won.scope)
      })

    const connectSession = (peer: Handle): Effect.Effect<Session, SessionError> =>
      Effect.suspend(() => {
        if (shuttingDown) return Effect.fail(shutdownError())
        const existing = sessions.get(peer)
        if (existing !== undefined) return Effect.succeed(existing)
        const pending = dialing.get(peer)
        if (pending !== undefined) return Deferred.await(pending)
        const result = Deferred.unsafeMake<Session, SessionError>(FiberId.none)
        dialing.set(peer, result)
        return Effect.zipRight(
          Effect.forkIn(
            Effect.exit(dial(peer)).pipe(
              Effect.flatMap((exit) => Deferred.done(result, exit)),
              Effect.ensuring(Effect.sync(() => dialing.delete(peer)))
            ),
            scope
          ),
          Deferred.await(result)
        )
      })

    /** One handshake as responder; the permit is released when it is over. */
    const serveConnection = (listener: Listener) =>
      Effect.gen(function* () {
        yield* handshakes.take(1)
        const connScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const accepted = yield* Effect.exit(Scope.extend(listener.accept, connScope))
        if (Exit.isFailure(accepted)) {
          yield* handshakes.release(1)
          yield* Scope.close(connScope, Exit.void)
          if (!shuttingDown) {
            yield* Effect.logWarning(`agent: accepting on ${formatAddress(listener.address)} failed`, accepted.cause)
            yield* Effect.sleep("1 second")
          }
          return
        }
        yield* Effect.forkIn(
          Scope.extend(channels.accept(accepted.value), connScope).pipe(
            Effect.ensuring(handshakes.release(1)),
            Effect.flatMap((channel) => establish(channel, connScope)),
            Effect.tapError(() => Scope.close(connScope, Exit.void)),
            Effect.ignore
          ),
          scope
        )
      })

    // Closing the agent: every session gets `<Close/>` before the manager's scope goes.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        shuttingDown = true
        const all = [...sessions.values()]
        yield* Effect.forEach(
          all,
          (s) => Effect.zipRight(endSession(s, "shutdown"), s.owner === undefined ? Effect.void : Fiber.await(s.owner)),
          { concurrency: "unbounded", discard: true }
        )
      })
    )

    const manager: SessionManager = {
      self,
      addPlugin: (plugin) => Effect.sync(() => void plugins.push(plugin)),
      serve: (listeners) =>
        Effect.forEach(listeners, (l) => Effect.forkIn(Effect.forever(serveConnection(l)), scope), {
          discard: true
        }),
      isUp: (peer) => sessions.has(peer),
      link: (peer) => Effect.sync(() => Option.map(Option.fromNullable(sessions.get(peer)), (s) => s.link)),
      connect: (peer) => Effect.map(connectSession(peer), (s): PeerLink => s.link),
      publish,
      sessions: Effect.sync(() => [...sessions.values()].map((s) => s.summary())),
      close: (peer, reason) =>
        Effect.suspend(() => {
          const session = sessions.get(peer)
          return session === undefined ? Effect.void : endSession(session, reason ?? "closed", reason)
        }),
      serialOf: (peer) => sessions.get(peer)?.channel.peer.certificate?.serial,
      revoked: (peer, serial) =>
        Effect.suspend(() => {
          const session = sessions.get(peer)
          if (session === undefined || session.channel.peer.certificate?.serial !== serial) return Effect.succeed(false)
          const { channel } = session
          session.closeReason ??= REVOKED
          const alert =
            channel.abort === undefined
              ? Effect.void
              : channel.abort(REVOKED, `the peer's certificate ${serial} was revoked during the session`)
          return alert.pipe(Effect.zipRight(endSession(session, REVOKED, REVOKED)), Effect.as(true))
        })
    }
    return manager
  })
