/**
 * The seeded schedule the agent simulations share (issue 4 §6; issue 14 §6): each tick of 50 ms, a roll
 * chooses a message between a random pair, crossing messages (simultaneous open), an agent moving to a
 * new address (re-registering at once), or a partition between two hosts (healed 10 to 60 ticks later);
 * then the network heals and the outboxes drain. The same seed gives the same schedule.
 */
import { expect } from "@effect/vitest"
import { Effect, Queue, TestClock } from "effect"
import type { Handle } from "../../../src/domain/brands.js"
import type { AgentEvent } from "../../../src/services/Agent.js"
import type { SimNetwork } from "../../support/SimNetwork.js"
import type { RunningAgent } from "../core/helpers.js"
import type { MobileNode } from "./MobileTransport.js"

export const TICKS = 200
export const TICK = "50 millis"

/** A node's host after `move` moves. */
export const hostOf = (k: number, move: number) => `2001:db8:${k.toString(16)}::${(move + 1).toString(16)}`

/** A small seeded generator: `rand(n)` in 0..n-1. */
export const lcg = (seed: number) => {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
}

export interface Sent {
  readonly id: string
  readonly from: number
  readonly to: number
  readonly body: string
}

export interface SimNode {
  readonly k: number
  readonly mobile: MobileNode
  readonly running: RunningAgent
  moves: number
}

export interface ScheduleOptions {
  readonly net: SimNetwork
  readonly nodes: ReadonlyArray<SimNode>
  readonly rand: (n: number) => number
  /** Upper bounds of the roll (out of 100) for a send, a crossing send, a move and a partition. */
  readonly rolls: {
    readonly send: number
    readonly crossing: number
    readonly move: number
    readonly partition: number
  }
  /** The body of the `index`-th message. */
  readonly body: (index: number, from: number, to: number) => string
}

/** Runs the ticks, heals what is left partitioned; what was sent, how many moves and partitions. */
export const runSchedule = ({ net, nodes, rand, rolls, body }: ScheduleOptions) =>
  Effect.gen(function* () {
    const agents = nodes.length
    const handleOf = (k: number): Handle => nodes[k]!.running.handle
    const sent: Array<Sent> = []
    const partitions: Array<{ a: string; b: string; healAt: number }> = []
    let moves = 0
    for (let tick = 0; tick < TICKS; tick++) {
      const roll = rand(100)
      const send = (from: number, to: number) =>
        Effect.gen(function* () {
          const text = body(sent.length, from, to)
          const m = yield* nodes[from]!.running.agent.send(handleOf(to), text)
          sent.push({ id: m.id, from, to, body: text })
        })
      if (roll < rolls.send) {
        const from = rand(agents)
        yield* send(from, (from + 1 + rand(agents - 1)) % agents)
      } else if (roll < rolls.crossing) {
        // Crossing messages: both ends dial at once (simultaneous open, PROTOCOL.md §15).
        const x = rand(agents)
        const y = (x + 1 + rand(agents - 1)) % agents
        yield* Effect.all([send(x, y), send(y, x)], { concurrency: "unbounded", discard: true })
      } else if (roll < rolls.move) {
        // An agent moves to a new address and re-registers at once.
        const node = nodes[rand(agents)]!
        yield* node.mobile.moveTo(hostOf(node.k, ++node.moves))
        yield* node.running.presence.refresh
        moves++
      } else if (roll < rolls.partition) {
        // Mostly between agents in a session, so that stalled sessions are noticed (keep-alive).
        const x = rand(agents)
        const live = (yield* nodes[x]!.running.agent.status).sessions
        const other = live.length > 0 ? live[rand(live.length)]!.peer : undefined
        const y =
          other !== undefined ? nodes.findIndex((n) => n.running.handle === other) : (x + 1 + rand(agents - 1)) % agents
        const a = nodes[x]!.mobile.host()
        const b = nodes[y]!.mobile.host()
        yield* net.partition(a, b)
        partitions.push({ a, b, healAt: tick + 10 + rand(50) })
      }
      for (const p of partitions.filter((p) => p.healAt === tick)) yield* net.heal(p.a, p.b)
      yield* TestClock.adjust(TICK)
    }
    for (const p of partitions.filter((p) => p.healAt >= TICKS)) yield* net.heal(p.a, p.b)
    return { sent, moves, partitions: partitions.length, handleOf }
  })

/** Lets time run until every outbox is empty (at most 120 simulated seconds); the messages left over. */
export const drainOutboxes = (nodes: ReadonlyArray<SimNode>) =>
  Effect.gen(function* () {
    const outboxes = Effect.map(
      Effect.forEach(nodes, (n) => n.running.store.outbox({})),
      (all) => all.reduce((sum, o) => sum + o.length, 0)
    )
    for (let step = 0; step < 1200 && (yield* outboxes) > 0; step++) yield* TestClock.adjust("100 millis")
    return yield* outboxes
  })

/** How the nodes' sessions ended, by kind (addresses and counters left out): what the schedule exercised. */
export const sessionDowns = (nodes: ReadonlyArray<{ readonly events: Queue.Dequeue<AgentEvent> }>) =>
  Effect.gen(function* () {
    const downs: Record<string, number> = {}
    for (const n of nodes)
      for (const e of yield* Queue.takeAll(n.events))
        if (e._tag === "agent.SessionDown") {
          const kind = e.reason.replace(/\[[^\]]*\]:\d+|#\d+/g, "").slice(0, 40)
          downs[kind] = (downs[kind] ?? 0) + 1
        }
    return downs
  })

/** Sessions ended every way: idle, a dead peer behind a partition, replaced by a simultaneous open, reset by a move. */
export const expectSessionsEndedEveryWay = (downs: Readonly<Record<string, number>>) => {
  expect(downs.idle).toBeGreaterThan(0)
  expect(downs["the peer stopped answering"]).toBeGreaterThan(0)
  expect(downs.replaced).toBeGreaterThan(0)
  expect(Object.keys(downs).some((k) => k.startsWith("the connection failed"))).toBe(true)
}

interface HistoryLine {
  readonly id: string
  readonly direction: string
  readonly state: string
  readonly peer: string
  readonly body: string
}

/** Every sent message is delivered at its sender and stored exactly once at its receiver; nothing else arrived. */
export const expectEachDeliveredOnce = (run: {
  readonly sent: ReadonlyArray<Sent>
  readonly histories: ReadonlyArray<ReadonlyArray<HistoryLine>>
  readonly handleOf: (k: number) => string
}) => {
  for (const m of run.sent) {
    const out = run.histories[m.from]!.filter((x) => x.id === m.id && x.direction === "out")
    expect(
      out.map((x) => x.state),
      `${m.body} at its sender`
    ).toEqual(["delivered"])
    const copies = run.histories[m.to]!.filter((x) => x.id === m.id && x.direction === "in")
    expect(
      copies.map((x) => [x.peer, x.body]),
      `${m.body} at its receiver`
    ).toEqual([[run.handleOf(m.from), m.body]])
  }
  const received = run.histories.flat().filter((x) => x.direction === "in")
  expect(received).toHaveLength(run.sent.length)
}
