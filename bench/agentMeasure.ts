/**
 * What Alice's process measures in `bench:agent`, through the `Agent` port only (as the control
 * socket would): messages sent back to back until her store marks them all delivered, paced
 * messages for latency, and files sent until her store marks them done (Bob's `<FileAck>`, i.e.
 * received, SHA-256 checked, synced and placed).
 *
 * Her agent's event feed is followed by one fiber that stamps every delivery and transfer change on
 * the monotonic clock. The feed drops its oldest events when a subscriber falls 4096 behind, so a
 * wait also polls the agent's status (outbox empty / transfer done) now and then rather than
 * trusting the feed alone.
 */

import { randomBytes } from "node:crypto"
import { createWriteStream } from "node:fs"
import { Deferred, Effect, type Scope, Stream } from "effect"
import type { Handle } from "../src/domain/brands.js"
import type { AgentService } from "../src/services/Agent.js"
import { nowUs, type PeerProcess } from "./agentPeer.js"

/** The body of every measured message: 100 bytes of text, as the channel bench's ping. */
export const MESSAGE_BODY = "m".repeat(100)

/** Longest any single wait may take before the bench gives up. */
const WAIT_LIMIT_MS = 180_000
const POLL_MS = 250

interface Waiter {
  readonly ids: Set<string>
  readonly done: Deferred.Deferred<void>
}

export interface Tracker {
  /** Delivery time (monotonic µs) per message id, since the last `reset`. */
  readonly delivered: Map<string, number>
  /** When each outgoing transfer reached `sending` (Bob accepted) and `done`. */
  readonly transfers: Map<string, { sendingUs?: number; doneUs?: number; failed?: string }>
  readonly reset: () => void
  /** Waits until every id is delivered (or the agent's outbox is empty). */
  readonly allDelivered: (ids: ReadonlyArray<string>) => Effect.Effect<void, Error>
  /** Waits until transfer `id` is done; fails if it failed or was cancelled. */
  readonly transferDone: (id: string) => Effect.Effect<void, Error>
}

/** Follows `agent.events` for the enclosing scope. */
export const makeTracker = (agent: AgentService): Effect.Effect<Tracker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const delivered = new Map<string, number>()
    const transfers = new Map<string, { sendingUs?: number; doneUs?: number; failed?: string }>()
    let waiter: Waiter | undefined
    let transferWaiter: { readonly id: string; readonly done: Deferred.Deferred<void, Error> } | undefined

    yield* Effect.forkScoped(
      Stream.runForEach(agent.events, (e) =>
        Effect.sync(() => {
          if (e._tag === "agent.MessageUpdated") {
            const m = e.message
            if (m.direction !== "out" || (m.state !== "delivered" && m.state !== "read")) return
            if (!delivered.has(m.id)) delivered.set(m.id, nowUs())
            if (waiter?.ids.delete(m.id) && waiter.ids.size === 0) Deferred.unsafeDone(waiter.done, Effect.void)
          } else if (e._tag === "agent.TransferUpdated" && e.transfer.direction === "out") {
            const t = e.transfer
            const entry = transfers.get(t.id) ?? {}
            transfers.set(t.id, entry)
            if (t.state === "sending") entry.sendingUs ??= nowUs()
            if (t.state === "done") entry.doneUs ??= nowUs()
            if (t.state === "failed" || t.state === "cancelled") entry.failed = t.detail ?? t.state
            if (transferWaiter?.id === t.id && (entry.doneUs !== undefined || entry.failed !== undefined)) {
              Deferred.unsafeDone(
                transferWaiter.done,
                entry.failed === undefined ? Effect.void : Effect.fail(new Error(`the file ${entry.failed}`))
              )
            }
          }
        })
      )
    )
    // Let the subscription start before anything is sent.
    for (let i = 0; i < 50; i++) yield* Effect.yieldNow()

    const outboxEmpty = Effect.map(Effect.orDie(agent.status), (s) => s.outbox === 0)

    const allDelivered = (ids: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<void>()
        const left = new Set(ids.filter((id) => !delivered.has(id)))
        if (left.size === 0) return
        waiter = { ids: left, done }
        const poll = Effect.repeat(Effect.sleep(POLL_MS).pipe(Effect.zipRight(outboxEmpty)), {
          until: (empty) => empty
        })
        yield* Effect.raceFirst(Deferred.await(done), Effect.asVoid(poll)).pipe(
          Effect.timeoutFail({
            duration: WAIT_LIMIT_MS,
            onTimeout: () => new Error(`${waiter?.ids.size ?? "?"} messages were not delivered in time`)
          }),
          Effect.ensuring(Effect.sync(() => (waiter = undefined)))
        )
      })

    const transferDone = (id: string) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<void, Error>()
        const seen = transfers.get(id)
        if (seen?.doneUs !== undefined) return
        if (seen?.failed !== undefined) return yield* Effect.fail(new Error(`the file ${seen.failed}`))
        transferWaiter = { id, done }
        const poll = Effect.repeat(
          Effect.sleep(POLL_MS).pipe(
            Effect.zipRight(Effect.orDie(agent.transfers())),
            Effect.map((ts) => ts.find((t) => t.id === id && t.direction === "out")?.state)
          ),
          { until: (state) => state === "done" || state === "failed" || state === "cancelled" }
        )
        const polled = Effect.flatMap(poll, (state) =>
          state === "done"
            ? Effect.sync(() => {
                const entry = transfers.get(id) ?? {}
                entry.doneUs ??= nowUs()
                transfers.set(id, entry)
              })
            : Effect.fail(new Error(`the file ended ${state}`))
        )
        yield* Effect.raceFirst(Deferred.await(done), polled).pipe(
          Effect.timeoutFail({
            duration: WAIT_LIMIT_MS,
            onTimeout: () => new Error(`file ${id} did not arrive in time`)
          }),
          Effect.ensuring(Effect.sync(() => (transferWaiter = undefined)))
        )
      })

    return {
      delivered,
      transfers,
      reset: () => {
        delivered.clear()
        transfers.clear()
      },
      allDelivered,
      transferDone
    } satisfies Tracker
  })

export interface MessageRun {
  readonly count: number
  readonly ms: number
  /** Send returned -> Bob's store had it, µs, for every message Bob reported. */
  readonly latenciesUs: ReadonlyArray<number>
}

/**
 * Sends `count` messages and waits until all are delivered: back to back (each `send` returns once Alice
 * stored it), or `paced`: send, wait until Alice hears it was delivered, next.
 */
const sendMessages = (
  agent: AgentService,
  tracker: Tracker,
  peer: PeerProcess,
  count: number,
  pacing: "burst" | "paced"
): Effect.Effect<MessageRun, unknown> =>
  Effect.gen(function* () {
    tracker.reset()
    yield* Effect.promise(() => peer.forget())
    const ids: Array<string> = []
    const sentUs: Array<number> = []
    const start = performance.now()
    for (let i = 0; i < count; i++) {
      const m = yield* agent.send(peer.handle, MESSAGE_BODY)
      sentUs.push(nowUs())
      ids.push(m.id)
      if (pacing === "paced") yield* tracker.allDelivered([m.id])
    }
    if (pacing === "burst") yield* tracker.allDelivered(ids)
    const ms = performance.now() - start
    return { count, ms, latenciesUs: yield* latencies(peer, ids, sentUs) }
  })

/** Sends `count` messages back to back, until all are delivered. */
export const burst = (agent: AgentService, tracker: Tracker, peer: PeerProcess, count: number) =>
  sendMessages(agent, tracker, peer, count, "burst")

/** One message at a time: send, wait until Alice hears it was delivered, next. */
export const paced = (agent: AgentService, tracker: Tracker, peer: PeerProcess, count: number) =>
  sendMessages(agent, tracker, peer, count, "paced")

const latencies = (peer: PeerProcess, ids: ReadonlyArray<string>, sentUs: ReadonlyArray<number>) =>
  Effect.map(
    Effect.promise(() => peer.storedTimes(ids)),
    (stored) => stored.flatMap((at, i) => (at === null ? [] : [Math.max(0, at - sentUs[i]!)]))
  )

export interface FileRun {
  readonly bytes: number
  /** `sendFile` called -> Bob's `<FileAck>` recorded. */
  readonly ms: number
  /** Bob's `<FileAccept>` -> `<FileAck>`: the transfer without the sender's hashing pass. */
  readonly streamMs: number
}

/** Sends the file at `path` and waits until Alice's store marks it done. */
export const sendFile = (
  agent: AgentService,
  tracker: Tracker,
  peer: Handle,
  path: string,
  bytes: number
): Effect.Effect<FileRun, unknown> =>
  Effect.gen(function* () {
    const startUs = nowUs()
    const t = yield* agent.sendFile(peer, path)
    yield* tracker.transferDone(t.id)
    const entry = tracker.transfers.get(t.id)!
    const doneUs = entry.doneUs!
    return { bytes, ms: (doneUs - startUs) / 1000, streamMs: (doneUs - (entry.sendingUs ?? startUs)) / 1000 }
  })

/** Writes `bytes` random bytes to `path` (1 MiB at a time). */
export const writeRandomFile = (path: string, bytes: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const out = createWriteStream(path, { mode: 0o600 })
    out.on("error", reject)
    let left = bytes
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, 1024 * 1024)
        left -= n
        if (!out.write(randomBytes(n))) return void out.once("drain", pump)
      }
      out.end(resolve)
    }
    pump()
  })
