/**
 * `Watch` (PROTOCOL.md §17): "the server pushes `<Changed>` when a watched binding changes".
 *
 * One `WatchHub` per server process holds one subscription to the registry's change feed (which on
 * PostgreSQL carries other processes' changes too) and computes each watched handle's new state once,
 * however many connections watch it. It never waits for a connection: each connection has a
 * `ConnectionWatches` that keeps only the latest state per handle and a writer fiber that sends them,
 * so a slow watcher costs at most one pending state per handle it watches and never delays the others.
 */
import { Effect, ExecutionStrategy, Exit, Queue, Scope, Stream } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { Changed, IrpServerMessage } from "../../../domain/irp/messages.js"
import type { RegistryChange, RegistryError } from "../../../domain/irp/registry.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import type { ChannelError } from "../../../services/SecureChannel.js"

export interface Sink {
  readonly push: (change: Changed) => Effect.Effect<void>
}

export interface WatchHub {
  readonly add: (handles: Iterable<Handle>, sink: Sink) => void
  readonly remove: (handles: Iterable<Handle>, sink: Sink) => void
}

/**
 * Subscribes at once (changes committed after this returns are seen) and forks the fan-out fiber.
 *
 * The fiber wakes once for whatever the feed holds (a batch of registrations is one wake) and looks at
 * each change in order; one of a handle nobody watches costs a map lookup and no effect step. Issue 15:
 * taking them one at a time cost every registration about five run-loop steps on a busy server, where
 * nearly every change is a lease renewal nobody watches. A change is skipped only if its handle had no
 * watcher when the fiber took it, after its commit: a `Watch` accepted later is owed only later changes.
 */
export const makeHub = (
  registry: IrpRegistryService,
  stateOf: (change: RegistryChange) => Effect.Effect<Changed, RegistryError>
): Effect.Effect<WatchHub, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sinks = new Map<Handle, Set<Sink>>()
    const watched = (change: RegistryChange) => (sinks.get(change.handle)?.size ?? 0) > 0
    /** Reads the handle's state once and pushes it to its watchers (those watching when it is read). */
    const fanOut = (change: RegistryChange): Effect.Effect<void> =>
      Effect.suspend(() => {
        const watching = sinks.get(change.handle)
        if (watching === undefined || watching.size === 0) return Effect.void
        return stateOf(change).pipe(
          Effect.flatMap((state) => Effect.forEach([...watching], (sink) => sink.push(state), { discard: true })),
          Effect.catchAll((e) => Effect.logWarning(`IRP watch: could not read ${change.handle}: ${e.message}`))
        )
      })
    const changes = yield* registry.subscribe
    yield* Queue.take(changes).pipe(
      Effect.flatMap((first) =>
        Effect.flatMap(Queue.takeAll(changes), (rest) => {
          const due: Array<RegistryChange> = []
          if (watched(first)) due.push(first)
          for (const change of rest) if (watched(change)) due.push(change)
          return due.length === 0 ? Effect.void : Effect.forEach(due, fanOut, { discard: true })
        })
      ),
      Effect.forever,
      Effect.forkScoped
    )
    return {
      add: (handles, sink) => {
        for (const handle of handles) {
          const set = sinks.get(handle)
          if (set === undefined) sinks.set(handle, new Set([sink]))
          else set.add(sink)
        }
      },
      remove: (handles, sink) => {
        for (const handle of handles) {
          const set = sinks.get(handle)
          if (set === undefined) continue
          set.delete(sink)
          if (set.size === 0) sinks.delete(handle)
        }
      }
    }
  })

/** A foreign handle's changes (PROTOCOL.md §22.4), for as long as the scope it is opened in lasts. */
export type ForeignSubscribe<E> = (handle: Handle) => Effect.Effect<Stream.Stream<Changed, unknown>, E, Scope.Scope>

export interface ConnectionWatches {
  /** Handles watched, this domain's and foreign ones. */
  readonly size: () => number
  /** Adds handles; `false` (and nothing added) when the connection would hold more than `max`. */
  readonly add: (handles: ReadonlyArray<Handle>) => boolean
  /**
   * Adds foreign handles, one subscription each (the `Federation` service shares one federation `Watch`
   * per handle among local watchers); `false` (nothing added) past `max`. When one subscription fails
   * none is kept. A subscription whose stream ends (its federation session was lost) is dropped: a
   * later `Watch` subscribes again.
   */
  readonly addForeign: <E>(handles: ReadonlyArray<Handle>, subscribe: ForeignSubscribe<E>) => Effect.Effect<boolean, E>
  /** Removes handles, foreign ones included; none given removes all. */
  readonly remove: (handles: ReadonlyArray<Handle>) => void
}

/** One connection's watches; unwatches everything when the connection's scope closes. */
export const makeConnectionWatches = (
  hub: WatchHub,
  send: (message: IrpServerMessage) => Effect.Effect<void, ChannelError>,
  max: number
): Effect.Effect<ConnectionWatches, never, Scope.Scope> =>
  Effect.gen(function* () {
    const watched = new Set<Handle>()
    const pending = new Map<Handle, Changed>()
    const wake = yield* Queue.sliding<void>(1)
    const connection = yield* Effect.scope
    // Foreign handles: each subscription lives in a scope of its own, closed by `remove` (through
    // `closing`, since `remove` is synchronous) or with the connection's scope.
    const foreign = new Map<Handle, Scope.CloseableScope>()
    const closing = yield* Queue.unbounded<Scope.CloseableScope>()
    yield* Queue.take(closing).pipe(
      Effect.flatMap((scope) => Scope.close(scope, Exit.void)),
      Effect.forever,
      Effect.forkScoped
    )
    const offerForeign = (handle: Handle, scope: Scope.Scope, change: Changed) =>
      Effect.suspend(() => {
        if (foreign.get(handle) !== scope || change.handle !== handle) return Effect.void
        pending.set(handle, change)
        return Effect.asVoid(Queue.offer(wake, undefined))
      })
    const dropForeign = (handle: Handle) => {
      const scope = foreign.get(handle)
      if (scope === undefined) return
      foreign.delete(handle)
      pending.delete(handle)
      closing.unsafeOffer(scope)
    }
    const sink: Sink = {
      push: (change) =>
        Effect.suspend(() => {
          if (!watched.has(change.handle)) return Effect.void
          pending.set(change.handle, change)
          return Effect.asVoid(Queue.offer(wake, undefined))
        })
    }
    const drain = Effect.suspend(() => {
      const batch = [...pending.values()]
      pending.clear()
      return Effect.forEach(batch, send, { discard: true })
    })
    // A failed send means the connection is gone: its own loop notices and closes the scope.
    yield* Queue.take(wake).pipe(Effect.zipRight(drain), Effect.forever, Effect.ignore, Effect.forkScoped)
    yield* Effect.addFinalizer(() => Effect.sync(() => hub.remove(watched, sink)))
    const size = () => watched.size + foreign.size
    const addForeign = <E>(handles: ReadonlyArray<Handle>, subscribe: ForeignSubscribe<E>) =>
      Effect.gen(function* () {
        const fresh = [...new Set(handles)].filter((h) => !foreign.has(h))
        if (size() + fresh.length > max) return false
        const opened: Array<Handle> = []
        for (const handle of fresh) {
          const scope = yield* Scope.fork(connection, ExecutionStrategy.sequential)
          foreign.set(handle, scope)
          opened.push(handle)
          const stream = yield* Scope.extend(subscribe(handle), scope).pipe(
            Effect.tapError(() => Effect.sync(() => opened.forEach(dropForeign)))
          )
          yield* Stream.runForEach(stream, (change) => offerForeign(handle, scope, change)).pipe(
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => foreign.get(handle) === scope && dropForeign(handle))),
            Effect.forkIn(scope)
          )
        }
        return true
      })
    return {
      size,
      addForeign,
      add: (handles) => {
        const fresh = [...new Set(handles)].filter((h) => !watched.has(h))
        if (size() + fresh.length > max) return false
        for (const h of fresh) watched.add(h)
        hub.add(fresh, sink)
        return true
      },
      remove: (handles) => {
        for (const h of handles.length === 0 ? [...foreign.keys()] : handles) dropForeign(h)
        const gone = handles.length === 0 ? [...watched] : handles.filter((h) => watched.has(h))
        for (const h of gone) {
          watched.delete(h)
          pending.delete(h)
        }
        hub.remove(gone, sink)
      }
    }
  })
