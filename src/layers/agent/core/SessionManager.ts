/**
 * SessionManager (issue 4, section 1; agent architecture note): one session per peer, reused. It
 * accepts on the agent's listeners, dials on demand through the Directory (Happy Eyeballs), pins
 * keys, resolves simultaneous opens (PROTOCOL.md §15), keeps sessions alive, closes idle ones, and
 * hands every inbound record to the plugins.
 *
 * Ownership: every session lives in a scope of its own forked from the manager's; one fiber per
 * session (the "owner", in the manager's scope) runs the receive loop and, when it ends for any
 * reason, tears the session down (plugins told, event published, scope closed, which sends
 * `<Close/>`). Ending a session from elsewhere = `<Close reason/>` then interrupting its owner.
 * Closing the manager closes every session with `<Close/>`.
 */
import { Deferred, Effect, ExecutionStrategy, Exit, Fiber, FiberId, Option, Scope } from "effect"
import { chainOf } from "../../../domain/agent/chain.js"
import { type Fingerprint, formatAddress, type Handle } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { LocalIdentity } from "../../../domain/handshake/parameters.js"
import type { AgentEvent, SessionSummary } from "../../../services/Agent.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { DirectoryService } from "../../../services/Directory.js"
import type { PeerStatusService } from "../../../services/PeerStatus.js"
import type { ChannelError, SecureChannelsService } from "../../../services/SecureChannel.js"
import type { Listener } from "../../../services/Transport.js"
import type { ConnectionHandler } from "../../transport/Admission.js"
import * as Admission from "../../transport/Admission.js"
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
  /** The status gate (PROTOCOL.md §13.6): without it every verified peer is admitted. */
  readonly peerStatus?: PeerStatusService | undefined
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
    // Issue 10 §4: per-source and total caps on connections still in their handshake (PROTOCOL.md §15.7).
    const gate = Admission.make({
      maxHandshakes: options.maxHandshakes,
      maxHandshakesPerSource: options.maxHandshakesPerSource
    })
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

    /**
     * A handshake completed (either role): pin the key, record the session code, resolve a
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
        // PROTOCOL.md §13.6.3: nothing (message, receipt, file) before the peer's certificate -- its
        // serial, not its handle -- is known good: a valid staple, else a fresh Status by serial.
        // Records the peer sent meanwhile wait unread in the channel; on refusal they are dropped
        // with the connection, and the peer keeps them queued until acknowledged (§15.2).
        let statusUntil: number | undefined
        if (config.peerStatus !== undefined) {
          const admission = yield* config.peerStatus.check(certificate, channel.peer.staple)
          if (admission._tag === "Refused") {
            yield* Effect.logWarning(`agent: refused ${peer} (serial ${certificate.serial}): ${admission.message}`)
            yield* discard(channel, channelScope, admission.wireReason)
            return yield* new SessionError({ reason: "Refused", message: admission.message })
          }
          statusUntil = admission.until
        }
        const now = clock.unsafeCurrentTimeMillis()
        const fingerprint: Fingerprint = certificate.fingerprint
        // PROTOCOL.md §13.5: pin the chain on first contact; a changed key is reported,
        // and refused in strict mode (and, in any mode, when it is a key that was replaced before).
        const pinned = yield* Effect.either(
          store.pinContact({
            handle: peer,
            fingerprint,
            chain: chainOf(certificate),
            now,
            acceptChange: !options.strictKeys
          })
        )
        if (pinned._tag === "Left") {
          yield* discard(channel, channelScope, "internal_error")
          return yield* new SessionError({ reason: "Refused", message: pinned.left.message, cause: pinned.left })
        }
        if (pinned.right._tag === "Changed" && !pinned.right.accepted) {
          yield* discard(channel, channelScope, KEY_CHANGED)
          return yield* new SessionError({
            reason: "KeyChanged",
            message: pinned.right.change.returning
              ? `${peer} presented a key they used before and replaced (${fingerprint}): refused; if ${peer} really went back to it, compare the safety number (sixchat contact show ${peer}), then run \`sixchat trust ${peer}\`.`
              : `${peer} presented a new key (${fingerprint}); compare the safety number (sixchat contact show ${peer}), then run \`sixchat trust ${peer}\` to accept it.`
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
              yield* down(peer, "replaced", existing.link)
              yield* Effect.forkIn(endSession(existing, "replaced", DUPLICATE), scope)
            }
            yield* install(session)
            if (statusUntil !== undefined) yield* Effect.forkIn(recheck(session, statusUntil), session.scope)
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
            yield* Effect.ignore(store.recordSessionCode({ handle: peer, code: channel.session.verificationCode, now }))
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

    /** One handshake as responder, from accept (the gate admitted it); the slot is freed when it is over. */
    const serveConnection: ConnectionHandler = (connection, connScope, established) =>
      Scope.extend(channels.accept(connection), connScope).pipe(
        Effect.ensuring(established),
        Effect.flatMap((channel) => establish(channel, connScope)),
        Effect.tapError(() => Scope.close(connScope, Exit.void)),
        Effect.asVoid
      )

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
        Effect.forEach(listeners, (l) => Effect.forkIn(Scope.extend(gate.serve(l, serveConnection), scope), scope), {
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
