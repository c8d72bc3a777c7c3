/**
 * The revocation guard (issue 10 §2; PROTOCOL.md 17.9.3): every live session's certificate is
 * re-checked when the directory reports a change of its peer's handle, and a session whose certificate
 * was revoked ends with the alert `certificate_revoked`.
 *
 * * It watches every handle it has a live session with — inbound peers too, not only those we dial —
 *   with one directory watch per handle, started when the session comes up and ended when it goes.
 * * On each change of handle H (a push, or the resync after the IRP connection came back) it asks the
 *   directory for the status of the live session's certificate BY SERIAL: the handle's current
 *   certificate may well be good (a renewed or rotated key) while the one the session runs on is
 *   revoked. The directory notes a revoked serial, so that a new handshake with it is refused too.
 * * It also checks once when the session comes up, after starting the watch: a revocation committed
 *   between the handshake and the watch is then not missed.
 *
 * A check that cannot reach the directory is logged and left to the next change or resync; the
 * stapled status of the handshake (17.8, another part of the agent) bounds how long a revoked peer can
 * stay unnoticed without a watch.
 */
import { Effect, Fiber, Schedule, type Scope, Stream } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { DirectoryService } from "../../../services/Directory.js"
import type { SessionPlugin } from "./plugin.js"
import type { SessionManager } from "./SessionManager.js"

export interface RevocationGuardConfig {
  readonly directory: DirectoryService
  readonly manager: Pick<SessionManager, "serialOf" | "revoked">
}

/** A session plugin that handles no message: it only follows the sessions' peers. */
export const make = (config: RevocationGuardConfig): Effect.Effect<SessionPlugin | undefined, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { directory, manager } = config
    const status = directory.certificateStatus
    if (status === undefined) return undefined
    const scope = yield* Effect.scope
    const watchers = new Map<Handle, Fiber.RuntimeFiber<void>>()

    const check = (peer: Handle): Effect.Effect<void> =>
      Effect.suspend(() => {
        const serial = manager.serialOf(peer)
        if (serial === undefined) return Effect.void
        return status(peer, serial).pipe(
          Effect.flatMap((answer) =>
            answer !== "revoked"
              ? Effect.void
              : Effect.flatMap(manager.revoked(peer, serial), (ended) =>
                  ended
                    ? Effect.logWarning(`agent: ${peer}'s certificate ${serial} was revoked; the session is closed`)
                    : Effect.void
                )
          ),
          Effect.catchAll((e) => Effect.logWarning(`agent: could not check ${peer}'s certificate: ${e.message}`))
        )
      })

    const follow = (peer: Handle): Effect.Effect<void> =>
      Stream.runForEach(directory.watch([peer]), check).pipe(
        Effect.tapError((e) => Effect.logWarning(`agent: watching ${peer} failed (${e.message}); retrying`)),
        Effect.retry(Schedule.spaced("2 seconds")),
        Effect.ignore
      )

    const plugin: SessionPlugin = {
      name: "revocation-guard",
      onSessionUp: (link) =>
        Effect.gen(function* () {
          const peer = link.peer
          if (!watchers.has(peer)) watchers.set(peer, yield* Effect.forkIn(follow(peer), scope))
          // In the guard's scope: closing the session interrupts this fiber.
          yield* Effect.forkIn(check(peer), scope)
        }),
      onMessage: () => Effect.succeed(false),
      onData: () => Effect.void,
      // Data records are not ours: nothing to run per record.
      tryData: () => true,
      onSessionDown: (peer) =>
        Effect.suspend(() => {
          const fiber = watchers.get(peer)
          if (fiber === undefined) return Effect.void
          watchers.delete(peer)
          return Fiber.interruptFork(fiber)
        })
    }
    return plugin
  })
