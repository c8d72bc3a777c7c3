/**
 * One federation `Watch` per foreign handle, shared by every local watcher of it (PROTOCOL.md §22.4),
 * reference counted: the first watcher makes the foreign IRP watch the handle, the last one to leave
 * unwatches it. Changes fan out through a sliding buffer (each `<Changed>` carries the whole state, so
 * a watcher that falls behind loses only superseded ones). When the session is lost every watcher's
 * stream fails with `Unavailable`.
 */
import { Deferred, Effect, ExecutionStrategy, Exit, FiberId, PubSub, Scope, Stream } from "effect"
import type { Handle } from "../../domain/brands.js"
import type { FederationError } from "../../services/Federation.js"
import { type IdentityChange, IrpClientError } from "../../services/IrpClient.js"
import type { Session } from "./domainState.js"
import { fromClientError, unavailable } from "./federationErrors.js"

/** Changes kept for a watcher that has not read them yet. */
const WATCHER_BUFFER = 64

export interface SharedWatch {
  refs: number
  /** Done once the foreign IRP acknowledged the `Watch` (or refused it). */
  readonly ready: Deferred.Deferred<void, IrpClientError>
  readonly changes: PubSub.PubSub<IdentityChange>
  /** Fails once the foreign watch is gone (session lost or closed). */
  readonly lost: Deferred.Deferred<never, FederationError>
  readonly scope: Scope.CloseableScope
}

const close = (session: Session, handle: Handle, shared: SharedWatch) =>
  Effect.suspend(() => {
    if (session.watches.get(handle) === shared) session.watches.delete(handle)
    return Scope.close(shared.scope, Exit.void)
  })

/** Starts the foreign watch of `handle` on `session`; `lost` runs when the session is found dead. */
const start = (domain: string, session: Session, handle: Handle, shared: SharedWatch, onLost: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const changes = yield* session.client.watch([handle]).pipe(Scope.extend(shared.scope))
    yield* changes.pipe(
      Stream.runForEach((change) => PubSub.publish(shared.changes, change)),
      Effect.onExit((exit) =>
        Effect.gen(function* () {
          const error =
            Exit.isFailure(exit) && exit.cause._tag === "Fail"
              ? fromClientError(domain, exit.cause.error)
              : unavailable(domain, `the federation session with the IRP of ${domain} was closed`)
          yield* Deferred.fail(shared.lost, error)
          if (session.watches.get(handle) === shared) session.watches.delete(handle)
          if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) yield* onLost
        })
      ),
      Effect.forkIn(shared.scope)
    )
  })

/**
 * A local watcher of `handle` (in the caller's scope): joins or starts the shared watch, and gives the
 * stream of its changes from the acknowledgement on.
 */
export const acquireWatch = (
  domain: string,
  session: Session,
  handle: Handle,
  onLost: Effect.Effect<void>
): Effect.Effect<Stream.Stream<IdentityChange, FederationError>, IrpClientError, Scope.Scope> =>
  Effect.gen(function* () {
    const found = session.watches.get(handle)
    const shared: SharedWatch = found ?? {
      refs: 0,
      ready: Deferred.unsafeMake(FiberId.none),
      changes: yield* PubSub.sliding<IdentityChange>(WATCHER_BUFFER),
      lost: Deferred.unsafeMake(FiberId.none),
      scope: yield* Scope.fork(session.scope, ExecutionStrategy.sequential)
    }
    if (found === undefined) session.watches.set(handle, shared)
    shared.refs++
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        shared.refs--
        return shared.refs === 0 ? close(session, handle, shared) : Effect.void
      })
    )
    // Subscribed before the acknowledgement: no change after it is missed.
    const subscription = yield* PubSub.subscribe(shared.changes)
    if (found === undefined)
      yield* start(domain, session, handle, shared, onLost).pipe(
        Effect.onExit((exit) => {
          if (Exit.isSuccess(exit)) return Deferred.succeed(shared.ready, undefined)
          if (session.watches.get(handle) === shared) session.watches.delete(handle)
          const error =
            exit.cause._tag === "Fail"
              ? exit.cause.error
              : new IrpClientError({ reason: "Channel", message: `the watch of ${handle} was abandoned` })
          return Deferred.fail(shared.ready, error)
        })
      )
    yield* Deferred.await(shared.ready)
    return Stream.fromQueue(subscription).pipe(Stream.interruptWhen(Deferred.await(shared.lost)))
  })
