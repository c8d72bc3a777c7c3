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
import { Effect, Layer, TestClock } from "effect"
import { makeAddress } from "../../../src/domain/brands.js"
import { Presence } from "../../../src/services/Presence.js"
import { makeTestPki } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import * as SimNetwork from "../../support/SimNetwork.js"
import { memoryStore, recordEvents, startAgent } from "../core/helpers.js"
import * as MobileTransport from "./MobileTransport.js"
import {
  drainOutboxes,
  expectEachDeliveredOnce,
  expectSessionsEndedEveryWay,
  hostOf,
  lcg,
  runSchedule,
  sessionDowns
} from "./schedule.js"

const AGENTS = 20
/** Schedule ticks of 50 ms: 10 simulated seconds of traffic, moves and partitions. */
const pki = makeTestPki()
const anchors = [pki.caDer]
const people = Array.from({ length: AGENTS }, (_, k) => pki.identity(`u${k}@example.org`))
/** A fixed simulated start inside the certificates' validity. */
const START = Date.now() + 60_000

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
      const { sent, moves, partitions, handleOf } = yield* runSchedule({
        net,
        nodes,
        rand,
        rolls: { send: 42, crossing: 45, move: 48, partition: 54 },
        body: (i, from, to) => `m${i} u${from}->u${to}`
      })
      yield* drainOutboxes(nodes)

      const histories = yield* Effect.forEach(nodes, (n) => n.running.agent.history({ limit: 1000 }))
      const downs = yield* sessionDowns(nodes)
      const outcome = histories.map((h) => h.map((m) => [m.id, m.peer, m.direction, m.body, m.state].join(" ")))
      return { sent, histories, outcome, downs, moves, partitions, trace: net.trace(), handleOf }
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
        // ... and sessions ended every way; every message arrived exactly once, nothing else did.
        expectSessionsEndedEveryWay(first.downs)
        expectEachDeliveredOnce(first)

        const again = yield* run(11)
        expect(again.outcome).toEqual(first.outcome)
        expect(again.downs).toEqual(first.downs)
        expect(again.trace).toEqual(first.trace)
      }),
    120_000
  )
})
