/**
 * Delivery, the outbox pump across sessions (PROTOCOL.md §15: "There is no server to queue for an
 * offline peer, so the sender retries (backoff, and at once when the IRP reports a new address for
 * the peer)"; issue 4, section 2).
 *
 * For each peer with unacknowledged messages and no session: dial when its stored schedule allows
 * (`nextAttemptAt`, exponential backoff with jitter kept in the store, so a restart keeps it); a
 * failed dial counts as a failure and moves the schedule on. AT ONCE when the Directory's watch
 * reports that the peer's bindings changed, or a new message is enqueued (`kick`). A session that
 * ends with messages still waiting also counts as a failure (a peer that refuses us right after the
 * handshake must not be hammered); the peer's first `<Ack>` resets the schedule (`markDelivered`).
 * `kick` does nothing while a session with the peer is up (the pump has it).
 * Once a session is up, the messaging plugin sends the outbox.
 */
import { Clock, Duration, Effect, Fiber, Queue, type Scope, Stream } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { AgentEvent } from "../../../services/Agent.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { DirectoryService } from "../../../services/Directory.js"
import type { EntropyService } from "../../../services/Entropy.js"
import type { SessionManager } from "./SessionManager.js"

export interface DeliveryConfig {
  readonly store: AgentStoreService
  readonly directory: DirectoryService
  readonly manager: SessionManager
  readonly entropy: EntropyService
  readonly maxDials: number
  /** The agent's event feed, subscribed for the session ends. */
  readonly events: Effect.Effect<Queue.Dequeue<AgentEvent>, never, Scope.Scope>
  /**
   * Other peers that need a session (unfinished outgoing file transfers). Their backoff is kept in
   * memory only (the store schedules message peers): after a restart they are tried at once.
   */
  readonly extraPeers?: Effect.Effect<ReadonlyArray<Handle>> | undefined
}

export interface Delivery {
  /** Try `peer` now, whatever its backoff says (a message was enqueued, its key was trusted). */
  readonly kick: (peer: Handle) => Effect.Effect<void>
}

/** Session ends that are not failures: a replaced session, or our own shutdown. */
const benign = (reason: string) => reason === "replaced" || reason === "shutdown" || reason.endsWith("duplicate")

export const make = (config: DeliveryConfig): Effect.Effect<Delivery, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { store, directory, manager, entropy } = config
    const scope = yield* Effect.scope
    const wake = yield* Queue.sliding<void>(1)
    const dials = yield* Effect.makeSemaphore(Math.max(1, config.maxDials))
    const inFlight = new Set<Handle>()
    const watched = new Set<Handle>()
    let watcher: Fiber.RuntimeFiber<void> | undefined

    const signal = Queue.offer(wake, undefined)
    const random = () => {
      const b = entropy.bytes(4)
      return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32
    }
    const warn = (what: string) => (e: { readonly message: string }) =>
      Effect.logWarning(`agent delivery: ${what}: ${e.message}`)

    /** When extra peers (no message waiting) may be tried next. */
    const extraNext = new Map<Handle, number>()
    const extraPeers = config.extraPeers ?? Effect.succeed([])

    const failed = (peer: Handle, error: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        store.recordDeliveryFailure({ peer, error, random: random(), now }).pipe(
          Effect.tap((state) =>
            Effect.sync(() => {
              if (state.nextAttemptAt !== null) extraNext.set(peer, state.nextAttemptAt)
            })
          ),
          Effect.asVoid,
          Effect.catchAll(warn(`could not record a failed delivery to ${peer}`))
        )
      )

    const attempt = (peer: Handle) =>
      manager.connect(peer).pipe(
        Effect.asVoid,
        Effect.catchAll((e) => (e.reason === "ShuttingDown" ? Effect.void : failed(peer, e.message))),
        dials.withPermits(1),
        Effect.ensuring(
          Effect.zipRight(
            Effect.sync(() => inFlight.delete(peer)),
            signal
          )
        )
      )

    const retryNow = (peer: Handle) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        extraNext.delete(peer)
        return Effect.catchAll(store.retryNow({ peer, now }), warn(`could not reschedule ${peer}`))
      })

    /** Follows the Directory for `peers` (restarted when new peers join the set). */
    const watch = (peers: ReadonlyArray<Handle>) =>
      Effect.gen(function* () {
        if (peers.every((p) => watched.has(p))) return
        for (const p of peers) watched.add(p)
        const previous = watcher
        watcher = yield* Effect.forkIn(
          Stream.runForEach(directory.watch([...watched]), (peer) => Effect.zipRight(retryNow(peer), signal)).pipe(
            Effect.catchAll((e) =>
              Effect.zipRight(
                warn("the directory watch failed; retrying")(e),
                Effect.sync(() => watched.clear())
              )
            )
          ),
          scope
        )
        if (previous !== undefined) yield* Fiber.interruptFork(previous)
      })

    /** One pass: dials the peers that are due; returns when the next one is (epoch ms, or Infinity). */
    const round = Effect.gen(function* () {
      const outbox = yield* store.peersWithOutbox()
      const extra = (yield* extraPeers).filter((peer) => !outbox.some((p) => p.peer === peer))
      const now = yield* Clock.currentTimeMillis
      for (const peer of extraNext.keys()) if (!extra.includes(peer)) extraNext.delete(peer)
      const due = [
        ...outbox.map((p) => ({ peer: p.peer, at: p.nextAttemptAt })),
        ...extra.map((peer) => ({ peer, at: extraNext.get(peer) ?? null }))
      ]
      yield* watch(due.map((p) => p.peer))
      let next = Number.POSITIVE_INFINITY
      for (const p of due) {
        if (manager.isUp(p.peer) || inFlight.has(p.peer)) continue
        if (p.at === null || p.at <= now) {
          inFlight.add(p.peer)
          yield* Effect.forkIn(attempt(p.peer), scope)
        } else next = Math.min(next, p.at)
      }
      return next
    }).pipe(
      Effect.catchAll((e) =>
        Effect.zipRight(
          warn("could not read the outbox; trying again in a second")(e),
          Effect.map(Clock.currentTimeMillis, (now) => now + 1000)
        )
      )
    )

    /**
     * One timer for the earliest scheduled retry, re-armed only when an earlier one is needed (every
     * round would otherwise start a timer of its own; a spurious wake-up just runs a round).
     */
    let timerDue = Number.POSITIVE_INFINITY
    let timer: Fiber.RuntimeFiber<void> | undefined
    const arm = (due: number) =>
      Effect.gen(function* () {
        if (!Number.isFinite(due) || due >= timerDue) return
        if (timer !== undefined) yield* Fiber.interruptFork(timer)
        timerDue = due
        const now = yield* Clock.currentTimeMillis
        timer = yield* Effect.forkIn(
          Effect.zipRight(
            Effect.sleep(Duration.millis(Math.max(1, due - now))),
            Effect.zipRight(
              Effect.sync(() => {
                timerDue = Number.POSITIVE_INFINITY
              }),
              Effect.asVoid(signal)
            )
          ),
          scope
        )
      })

    const loop = Effect.forever(
      Effect.gen(function* () {
        yield* arm(yield* round)
        yield* Queue.take(wake)
      })
    )

    // A session that ended while messages still wait: count it and look again.
    const events = yield* config.events
    const sessionEnds = Effect.gen(function* () {
      for (;;) {
        const event = yield* Queue.take(events)
        if (event._tag !== "agent.SessionDown" || benign(event.reason)) continue
        const messages = yield* Effect.orElseSucceed(store.outbox({ peer: event.peer, limit: 1 }), () => [])
        const waiting = messages.length > 0 || (yield* extraPeers).includes(event.peer)
        if (waiting && !manager.isUp(event.peer)) yield* failed(event.peer, event.reason)
        yield* signal
      }
    })

    yield* Effect.forkIn(sessionEnds, scope)
    yield* Effect.forkIn(loop, scope)
    return {
      // With a session up there is nothing to dial: the messaging plugin's pump sends what was
      // enqueued (AgentLive notifies it), and a session that ends with messages waiting is counted
      // and retried by `sessionEnds`. Skipping the store read and the round here saves them on every
      // message sent to a connected peer (issue 15).
      kick: (peer) => (manager.isUp(peer) ? Effect.void : Effect.zipRight(retryNow(peer), signal))
    } satisfies Delivery
  })
