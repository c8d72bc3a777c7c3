/**
 * Happy Eyeballs for User Agents (issue 4, section 1: "try every binding, IPv6 first, in parallel
 * with a short stagger"; RFC 8305): addresses are interleaved by family starting with IPv6, the
 * next attempt starts after the stagger or as soon as the previous one failed, the first attempt to
 * complete (here: the whole handshake, not only TCP) wins and the others are interrupted.
 *
 * Every attempt runs in a scope of its own forked from `parent`; the winner's scope is handed to
 * the caller (it becomes the session's scope), the losers' scopes are closed.
 */
import { Cause, Deferred, Duration, Effect, ExecutionStrategy, Exit, Fiber, Option, Scope } from "effect"
import type { Address } from "../../../domain/brands.js"

const isV6 = (address: Address) => address.host.includes(":")

/** RFC 8305 section 4: IPv6 first, then alternate families; order within a family kept, duplicates dropped. */
export const interleave = (addresses: ReadonlyArray<Address>): ReadonlyArray<Address> => {
  const seen = new Set<string>()
  const unique = addresses.filter((a) => {
    const key = `${a.host}|${a.port}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const v6 = unique.filter(isV6)
  const v4 = unique.filter((a) => !isV6(a))
  const out: Array<Address> = []
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) out.push(v6[i]!)
    if (i < v4.length) out.push(v4[i]!)
  }
  return out
}

export interface Won<A> {
  readonly value: A
  readonly address: Address
  /** The winner's resources; the caller owns it now and must close it. */
  readonly scope: Scope.CloseableScope
}

/** One failed attempt. */
export interface AttemptFailure<E> {
  readonly address: Address
  readonly error: E
}

/**
 * Races `attempt` over `addresses` (interleaved) with `staggerMs` between starts. Fails with every
 * attempt's error (in start order) when none succeeds, at once for an empty list.
 */
export const happyEyeballs = <A, E>(
  addresses: ReadonlyArray<Address>,
  staggerMs: number,
  parent: Scope.Scope,
  attempt: (address: Address) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<Won<A>, ReadonlyArray<AttemptFailure<E>>> =>
  Effect.gen(function* () {
    const ordered = interleave(addresses)
    if (ordered.length === 0) return yield* Effect.fail([])
    const winner = yield* Deferred.make<Won<A>, ReadonlyArray<AttemptFailure<E>>>()
    const failures: Array<AttemptFailure<E> | undefined> = ordered.map(() => undefined)
    let failed = 0

    const run = (index: number, address: Address, gaveUp: Deferred.Deferred<void>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
          const exit = yield* Effect.exit(restore(Scope.extend(attempt(address), scope)))
          if (Exit.isSuccess(exit)) {
            const first = yield* Deferred.succeed(winner, { value: exit.value, address, scope })
            if (!first) yield* Scope.close(scope, Exit.void)
            return
          }
          yield* Scope.close(scope, exit)
          const error = Cause.failureOption(exit.cause)
          if (Option.isSome(error)) failures[index] = { address, error: error.value }
          failed++
          yield* Deferred.succeed(gaveUp, undefined)
          if (failed === ordered.length)
            yield* Deferred.fail(
              winner,
              failures.filter((f) => f !== undefined)
            )
        })
      )

    const fibers: Array<Fiber.RuntimeFiber<void>> = []
    const stagger = Duration.millis(Math.max(0, staggerMs))
    return yield* Effect.gen(function* () {
      for (let i = 0; i < ordered.length; i++) {
        const gaveUp = yield* Deferred.make<void>()
        fibers.push(yield* Effect.fork(run(i, ordered[i]!, gaveUp)))
        if (i === ordered.length - 1) break
        yield* Effect.raceAll([Effect.sleep(stagger), Deferred.await(gaveUp), Effect.exit(Deferred.await(winner))])
        if (yield* Deferred.isDone(winner)) break
      }
      return yield* Deferred.await(winner)
    }).pipe(Effect.ensuring(Fiber.interruptAll(fibers)))
  })
