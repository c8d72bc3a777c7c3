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
 *
 * By step: the life of a session (`lifecycle.ts`), a completed handshake becoming one (`establish.ts`),
 * and here dialling, accepting and the manager's own interface.
 */

import { Deferred, Effect, ExecutionStrategy, Exit, Fiber, FiberId, Option, Scope } from "effect"
import { formatAddress, type Handle } from "../../../domain/brands.js"
import type { SessionSummary } from "../../../services/Agent.js"
import type { ChannelError } from "../../../services/SecureChannel.js"
import type { Listener } from "../../../services/Transport.js"
import type { ConnectionHandler } from "../../transport/Admission.js"
import * as Admission from "../../transport/Admission.js"
import { type AttemptFailure, happyEyeballs } from "./dialer.js"
import { SessionError } from "./errors.js"
import { makeEstablish } from "./establish.js"
import { makeLifecycle } from "./lifecycle.js"
import type { SessionManagerConfig } from "./managerConfig.js"
import type { AgentCore, PeerLink, SessionPlugin } from "./plugin.js"
import type { Session } from "./session.js"

export type { SessionManagerConfig } from "./managerConfig.js"

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
    const { self, options, channels, directory, publish } = config
    const clock = yield* Effect.clock
    const outer = yield* Effect.scope
    const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    const lifecycle = yield* makeLifecycle(config, scope, clock)
    const { plugins, sessions, state, shutdownError, endSession } = lifecycle
    const establish = makeEstablish(config, scope, clock, lifecycle)
    const dialing = new Map<Handle, Deferred.Deferred<Session, SessionError>>()
    // Issue 10 §4: per-source and total caps on connections still in their handshake (PROTOCOL.md §15.7).
    const gate = Admission.make({
      maxHandshakes: options.maxHandshakes,
      maxHandshakesPerSource: options.maxHandshakesPerSource
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
        if (state.shuttingDown) return Effect.fail(shutdownError())
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
        state.shuttingDown = true
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
