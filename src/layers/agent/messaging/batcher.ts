/**
 * Group commit for the messaging plugin: items (incoming messages, `<Ack>`s) are queued per peer and
 * handed to `flush` in runs, by one fiber per peer that lives only while items wait. The session's
 * receive loop thus keeps reading while a run is being stored, and everything that arrived in the
 * meantime goes into the next run: under load one transaction (one fsync) covers many messages,
 * while a lone message is flushed at once, with no timer and no added delay.
 *
 * Order is kept per peer (runs are flushed one after the other, oldest first). A caller that finds
 * `limit` items already waiting for its peer waits until a run has been flushed (back-pressure on
 * the session's receive loop, hence on the sender).
 */
import { Deferred, Effect, Exit, FiberId, type Scope } from "effect"

export interface BatcherOptions<K, A> {
  /** Most items per `flush`. */
  readonly max: number
  /** Items waiting per key beyond which `add` waits. */
  readonly limit: number
  /** Handles one run (must not fail: report problems itself). */
  readonly flush: (key: K, items: ReadonlyArray<A>) => Effect.Effect<void>
}

export interface Batcher<K, A> {
  readonly add: (key: K, item: A) => Effect.Effect<void>
}

interface Lane<A> {
  readonly items: Array<A>
  /** Completed after each run, so that callers held back by `limit` can go on. */
  flushed: Deferred.Deferred<void>
}

export const make = <K, A>(options: BatcherOptions<K, A>): Effect.Effect<Batcher<K, A>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const lanes = new Map<K, Lane<A>>()

    /** Flushes `key`'s runs until none is waiting, then retires the lane. */
    const drain = (key: K, lane: Lane<A>): Effect.Effect<void> =>
      Effect.gen(function* () {
        for (;;) {
          // Checking for more and retiring the lane happen in one step: an `add` lands either in
          // this run's lane (and is flushed here) or in a new lane with a drain of its own.
          const run = yield* Effect.sync(() => {
            if (lane.items.length > 0) return lane.items.splice(0, options.max)
            lanes.delete(key)
            return undefined
          })
          if (run === undefined) return
          yield* options.flush(key, run)
          const flushed = lane.flushed
          lane.flushed = Deferred.unsafeMake(FiberId.none)
          yield* Deferred.succeed(flushed, undefined)
        }
      }).pipe(
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : // Interrupted (shutdown) or died: the waiting items are dropped (never acknowledged,
              // so the sender resends them); whoever waits is released.
              Effect.suspend(() => {
                if (lanes.get(key) === lane) lanes.delete(key)
                return Deferred.succeed(lane.flushed, undefined)
              })
        )
      )

    const add = (key: K, item: A): Effect.Effect<void> =>
      Effect.suspend(() => {
        const lane = lanes.get(key)
        if (lane === undefined) {
          const fresh: Lane<A> = { items: [item], flushed: Deferred.unsafeMake(FiberId.none) }
          lanes.set(key, fresh)
          return Effect.asVoid(Effect.forkIn(drain(key, fresh), scope))
        }
        lane.items.push(item)
        return lane.items.length > options.limit ? Deferred.await(lane.flushed) : Effect.void
      })

    return { add }
  })
