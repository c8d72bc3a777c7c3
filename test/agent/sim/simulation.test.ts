/**
 * The deterministic simulation of issue 4, section 6: 20 User Agents on the in-memory network with a
 * MemoryDirectory, the TestClock and seeded entropy. A seeded schedule sends messages between random
 * pairs while agents move to new host addresses (re-registering at once) and pairs of hosts are
 * partitioned and healed later. Then the network heals and time runs on until the outboxes drain.
 *
 * Claims: every message sent is delivered exactly once (each receiver stores each id once, with the
 * right body, from the right sender; every sender's copy ends `delivered`), and the same seed gives
 * the same final outcome and the same network trace.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Queue, TestClock } from "effect"
import { type Handle, makeAddress } from "../../../src/domain/brands.js"
import { Presence } from "../../../src/services/Presence.js"
import { makeTestPki } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import * as SimNetwork from "../../support/SimNetwork.js"
import { memoryStore, recordEvents, startAgent } from "../core/helpers.js"
import * as MobileTransport from "./MobileTransport.js"

const AGENTS = 20
/** Schedule ticks of 50 ms: 10 simulated seconds of traffic, moves and partitions. */
const TICKS = 200
const TICK = "50 millis"
const pki = makeTestPki()
const anchors = [pki.caDer]
const people = Array.from({ length: AGENTS }, (_, k) => pki.identity(`u${k}@example.org`))
/** A fixed simulated start inside the certificates' validity. */
const START = Date.now() + 60_000
const hostOf = (k: number, move: number) => `2001:db8:${k.toString(16)}::${(move + 1).toString(16)}`

/**
 * Small timing knobs so that keep-alives, idle closes, dead peers (a session still used across a
 * partition) and backoff all happen within the run.
 */
const options = {
  keepAlive: "700 millis",
  deadAfter: "1800 millis",
  idleClose: "3 seconds",
  dialStagger: "50 millis",
  simultaneousWindow: "3 seconds",
  channel: { handshakeTimeout: "2 seconds", connectTimeout: "1 second" }
} as const
const retry = { baseMs: 100, maxMs: 2000 }

const lcg = (seed: number) => {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
}

interface Sent {
  readonly id: string
  readonly from: number
  readonly to: number
  readonly body: string
}

const run = (seed: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      // Zero latency: under the TestClock every timer costs a few milliseconds of real time, and one per
      // chunk would triple the run; latency and jitter are covered by the core and channel simulations.
      const net = yield* SimNetwork.make({ seed })
      const directory = yield* MemoryDirectory.make
      const rand = lcg(seed)
      const nodes = yield* Effect.forEach(people, (identity, k) =>
        Effect.gen(function* () {
          const mobile = yield* MobileTransport.make(net, hostOf(k, 0))
          const running = yield* startAgent({
            identity,
            anchors,
            directory,
            transport: mobile.transport,
            store: memoryStore({ retry }),
            listen: [makeAddress("::", 4605)],
            presence: (handle) =>
              Layer.scoped(
                Presence,
                directory.presence(
                  handle,
                  "device-1",
                  Effect.sync(() => [makeAddress(mobile.host(), 4605)])
                )
              ),
            seed: `sim/${seed}/${k}`,
            options
          })
          const events = yield* recordEvents(running.agent)
          return { k, mobile, running, events, moves: 0 }
        })
      )
      const handleOf = (k: number): Handle => nodes[k]!.running.handle
      const sent: Array<Sent> = []
      const partitions: Array<{ a: string; b: string; healAt: number }> = []
      let moves = 0

      for (let tick = 0; tick < TICKS; tick++) {
        const roll = rand(100)
        const send = (from: number, to: number) =>
          Effect.gen(function* () {
            const body = `m${sent.length} u${from}->u${to}`
            const m = yield* nodes[from]!.running.agent.send(handleOf(to), body)
            sent.push({ id: m.id, from, to, body })
          })
        if (roll < 42) {
          const from = rand(AGENTS)
          yield* send(from, (from + 1 + rand(AGENTS - 1)) % AGENTS)
        } else if (roll < 45) {
          // Crossing messages: both ends dial at once (simultaneous open, PROTOCOL.md §15).
          const x = rand(AGENTS)
          const y = (x + 1 + rand(AGENTS - 1)) % AGENTS
          yield* Effect.all([send(x, y), send(y, x)], { concurrency: "unbounded", discard: true })
        } else if (roll < 48) {
          // An agent moves to a new address and re-registers at once.
          const node = nodes[rand(AGENTS)]!
          yield* node.mobile.moveTo(hostOf(node.k, ++node.moves))
          yield* node.running.presence.refresh
          moves++
        } else if (roll < 54) {
          // Mostly between agents in a session, so that stalled sessions are noticed (keep-alive).
          const x = rand(AGENTS)
          const live = (yield* nodes[x]!.running.agent.status).sessions
          const other = live.length > 0 ? live[rand(live.length)]!.peer : undefined
          const y =
            other !== undefined
              ? nodes.findIndex((n) => n.running.handle === other)
              : (x + 1 + rand(AGENTS - 1)) % AGENTS
          const a = nodes[x]!.mobile.host()
          const b = nodes[y]!.mobile.host()
          yield* net.partition(a, b)
          partitions.push({ a, b, healAt: tick + 10 + rand(50) })
        }
        for (const p of partitions.filter((p) => p.healAt === tick)) yield* net.heal(p.a, p.b)
        yield* TestClock.adjust(TICK)
      }
      for (const p of partitions.filter((p) => p.healAt >= TICKS)) yield* net.heal(p.a, p.b)

      // Let it settle: every outbox drains (bounded: at most 120 simulated seconds).
      const outboxes = Effect.map(
        Effect.forEach(nodes, (n) => n.running.store.outbox({})),
        (all) => all.reduce((sum, o) => sum + o.length, 0)
      )
      for (let step = 0; step < 1200 && (yield* outboxes) > 0; step++) yield* TestClock.adjust("100 millis")

      const histories = yield* Effect.forEach(nodes, (n) => n.running.agent.history({ limit: 1000 }))
      // How sessions ended, by kind (what the schedule exercised).
      const downs: Record<string, number> = {}
      for (const n of nodes)
        for (const e of yield* Queue.takeAll(n.events))
          if (e._tag === "agent.SessionDown") {
            const kind = e.reason.replace(/\[[^\]]*\]:\d+|#\d+/g, "").slice(0, 40)
            downs[kind] = (downs[kind] ?? 0) + 1
          }
      const outcome = histories.map((h) => h.map((m) => [m.id, m.peer, m.direction, m.body, m.state].join(" ")))
      return { sent, histories, outcome, downs, moves, partitions: partitions.length, trace: net.trace(), handleOf }
    })
  )

describe("20-agent simulation", () => {
  it.effect(
    "moves and partitions: every message delivered exactly once; the same seed, the same outcome",
    () =>
      Effect.gen(function* () {
        const first = yield* run(11)
        // The schedule exercised what it claims to.
        expect(first.sent.length).toBeGreaterThan(80)
        expect(first.moves).toBeGreaterThan(3)
        expect(first.partitions).toBeGreaterThan(3)
        // ... and sessions ended every way: idle, a dead peer behind a partition, replaced by a
        // simultaneous open, reset by a move.
        expect(first.downs.idle).toBeGreaterThan(0)
        expect(first.downs["the peer stopped answering"]).toBeGreaterThan(0)
        expect(first.downs.replaced).toBeGreaterThan(0)
        expect(Object.keys(first.downs).some((k) => k.startsWith("the connection failed"))).toBe(true)

        for (const m of first.sent) {
          const out = first.histories[m.from]!.filter((x) => x.id === m.id && x.direction === "out")
          expect(
            out.map((x) => x.state),
            `${m.body} at its sender`
          ).toEqual(["delivered"])
          const copies = first.histories[m.to]!.filter((x) => x.id === m.id && x.direction === "in")
          expect(
            copies.map((x) => [x.peer, x.body]),
            `${m.body} at its receiver`
          ).toEqual([[first.handleOf(m.from), m.body]])
        }
        // Nothing arrived that was not sent.
        const received = first.histories.flat().filter((x) => x.direction === "in")
        expect(received).toHaveLength(first.sent.length)

        const again = yield* run(11)
        expect(again.outcome).toEqual(first.outcome)
        expect(again.downs).toEqual(first.downs)
        expect(again.trace).toEqual(first.trace)
      }),
    120_000
  )
})
