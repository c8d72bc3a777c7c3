/**
 * Deterministic simulation on the in-memory network (TestClock, seeded schedule): many peers dial each
 * other in a random order, including simultaneous dials in both directions; every conversation
 * completes, and the same seed gives the same trace.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, TestClock } from "effect"
import { type Handle, makeAddress } from "../../src/domain/brands.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import type { Connection } from "../../src/services/Transport.js"
import { channelsFor } from "../support/channels.js"
import { makeTestPki } from "../support/identities.js"
import * as SimNetwork from "../support/SimNetwork.js"

const PEERS = 8
const DIALS = 24
const pki = makeTestPki()
const people = Array.from({ length: PEERS }, (_, k) => pki.identity(`p${k}@example.org`))
const anchors = [pki.caDer]
/** A fixed simulated start, inside the certificates' validity, the same for every run. */
const START = Date.now() + 60_000
const hostOf = (k: number) => `10.1.0.${k + 1}`

const msg = (body: string): AppMessage => ({
  _tag: "e2e.Message",
  id: "01JDQ3ZV8Y6W4R2T0N9M7K5H3G" as never,
  sent: "2026-11-26T12:00:00Z" as never,
  body
})

const lcg = (seed: number) => {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
}

/** Runs one seeded simulation and returns its trace. */
const run = (seed: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ latency: "3 millis", jitter: "4 millis", seed })
      const rand = lcg(seed)
      const events: Array<string> = []
      const nodes = yield* Effect.forEach(people, (identity, k) =>
        Effect.map(
          channelsFor({ identity, anchors, transport: net.transportFor(hostOf(k)), seed: `${seed}/${k}` }),
          (channels) => ({
            k,
            channels,
            transport: net.transportFor(hostOf(k))
          })
        )
      )
      for (const node of nodes) {
        const listener = yield* node.transport.listen(makeAddress(hostOf(node.k), 4605))
        const serve = (conn: Connection) =>
          Effect.gen(function* () {
            const ch = yield* node.channels.accept(conn)
            const got = yield* ch.receive
            if (got._tag === "Message" && got.message._tag === "e2e.Message") {
              events.push(`p${node.k} got "${got.message.body}" from ${ch.peer.handle}`)
              yield* ch.send(msg(`ack ${got.message.body}`))
            }
            yield* ch.receive
          })
        // Accept in a loop; each connection is served on its own fiber with its own scope.
        yield* Effect.forkScoped(
          Effect.forever(
            Effect.gen(function* () {
              const scope = yield* Scope.make()
              const conn = yield* listener.accept.pipe(Scope.extend(scope))
              yield* Effect.forkScoped(serve(conn).pipe(Effect.ignore, Effect.ensuring(Scope.close(scope, Exit.void))))
            })
          )
        )
      }
      // A seeded schedule of dials; every 4th dial is paired with a simultaneous dial the other way.
      const dials: Array<{ from: number; to: number; at: number }> = []
      for (let d = 0; d < DIALS; d++) {
        const from = rand(PEERS)
        const to = (from + 1 + rand(PEERS - 1)) % PEERS
        const at = rand(200)
        dials.push({ from, to, at })
        if (d % 4 === 0) dials.push({ from: to, to: from, at })
      }
      const fibers = yield* Effect.forEach(dials, ({ from, to, at }, n) =>
        Effect.fork(
          Effect.scoped(
            Effect.gen(function* () {
              yield* Effect.sleep(`${at} millis`)
              const ch = yield* nodes[from]!.channels.dial(makeAddress(hostOf(to), 4605), {
                _tag: "Handle",
                handle: `p${to}@example.org` as Handle
              })
              yield* ch.send(msg(`m${n}`))
              const reply = yield* ch.receive
              events.push(
                `p${from} got "${reply._tag === "Message" && reply.message._tag === "e2e.Message" ? reply.message.body : reply._tag}"`
              )
              return n
            })
          )
        )
      )
      for (let step = 0; step < 400 && fibers.some((f) => f.unsafePoll() === null); step++)
        yield* TestClock.adjust("5 millis")
      const done = yield* Effect.forEach(fibers, Fiber.join)
      return { done, events, trace: net.trace(), dials: dials.length }
    })
  )

describe("simulation on the in-memory network", () => {
  it.effect("many peers, random dial order with simultaneous dials: all complete, same seed, same trace", () =>
    Effect.gen(function* () {
      const first = yield* run(7)
      const again = yield* run(7)
      const other = yield* run(8)
      expect(first.done).toEqual(Array.from({ length: first.dials }, (_, n) => n))
      const received = first.events.filter((e) => / got "m\d+" from /.test(e))
      expect(received).toHaveLength(first.dials)
      expect(first.events.filter((e) => /got "ack m\d+"/.test(e))).toHaveLength(first.dials)
      expect(again.events).toEqual(first.events)
      expect(again.trace).toEqual(first.trace)
      expect(first.trace.length).toBeGreaterThan(first.dials * 2)
      expect(other.trace).not.toEqual(first.trace)
    })
  )

  it.effect("a dial that cannot connect fails after connectTimeout with a sentence naming the address", () =>
    Effect.scoped(
      Effect.gen(function* () {
        yield* TestClock.setTime(START)
        const net = yield* SimNetwork.make({ partitionDial: "hang" })
        const listener = yield* net.transportFor(hostOf(1)).listen(makeAddress(hostOf(1), 4605))
        yield* net.partition(hostOf(0), hostOf(1))
        const channels = yield* channelsFor({
          identity: people[0]!,
          anchors,
          transport: net.transportFor(hostOf(0)),
          options: { connectTimeout: "4 seconds" }
        })
        const dialing = yield* Effect.fork(
          Effect.flip(
            Effect.scoped(channels.dial(listener.address, { _tag: "Handle", handle: people[1]!.handle as Handle }))
          )
        )
        yield* TestClock.adjust("4 seconds")
        const e = yield* Fiber.join(dialing)
        expect(e.reason).toBe("Transport")
        expect(e.message).toBe(`could not connect to ${hostOf(1)}:4605 within 4s`)
      })
    )
  )
})
