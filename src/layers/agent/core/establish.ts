/**
 * A handshake completed, in either role (see `SessionManager.ts`): the peer's certificate status is
 * checked (PROTOCOL.md §13.6.3), its key pinned (§13.5), a duplicate session resolved (simultaneous open,
 * §15), and the session installed.
 */
import type { Clock, Scope } from "effect"
import { Effect } from "effect"
import { chainOf } from "../../../domain/agent/chain.js"
import type { Fingerprint } from "../../../domain/brands.js"
import { SessionError } from "./errors.js"
import type { Lifecycle } from "./lifecycle.js"
import type { SessionManagerConfig } from "./managerConfig.js"
import { type AppChannel, Session } from "./session.js"
import { DUPLICATE, KEY_CHANGED, keepWhich } from "./simultaneousOpen.js"

export const makeEstablish = (
  config: SessionManagerConfig,
  scope: Scope.Scope,
  clock: Clock.Clock,
  { sessions, lock, state, shutdownError, endSession, discard, down, recheck, install }: Lifecycle
) => {
  const { options, store } = config
  let nextId = 0
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
      if (state.shuttingDown) {
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
          if (state.shuttingDown) return { _tag: "Refused" } as const
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
  return establish
}
