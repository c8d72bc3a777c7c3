/**
 * Session liveness on the simulated network with the TestClock (issue 4, section 1): keep-alive
 * pings hold a quiet session open, a session without application messages is closed as idle, a
 * peer that stops answering is noticed, and dialing follows Happy Eyeballs (IPv6 first, the next
 * address after the stagger).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Queue, TestClock } from "effect"
import { type Address, Handle, makeAddress } from "../../../src/domain/brands.js"
import { interleave } from "../../../src/layers/agent/core/dialer.js"
import { makeTestPki } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import * as SimNetwork from "../../support/SimNetwork.js"
import { advanceUntil, memoryStore, type RunningAgent, recordEvents, startAgent } from "./helpers.js"

const pki = makeTestPki()
const anchors = [pki.caDer]
const ids = [pki.identity("alice@example.org"), pki.identity("bob@example.org")] as const
const bob = Handle.make("bob@example.org")
const START = Date.now() + 60_000

const pair = (
  hosts: readonly [ReadonlyArray<string>, ReadonlyArray<string>],
  options: Parameters<typeof startAgent>[0]["options"],
  net: SimNetwork.SimNetwork
) =>
  Effect.gen(function* () {
    const directory = yield* MemoryDirectory.make
    return yield* Effect.forEach([0, 1] as const, (k) =>
      startAgent({
        identity: ids[k],
        anchors,
        directory,
        transport: net.transportFor(hosts[k]),
        store: memoryStore({ retry: { baseMs: 200, maxMs: 1000 } }),
        listen: [makeAddress("::", 4605), makeAddress("0.0.0.0", 4605)],
        presence: (handle) => directory.presenceLayer(handle, "device-1", hosts[k]),
        seed: `liveness/${k}`,
        ...(options === undefined ? {} : { options })
      })
    )
  })

const deliveredTo = (a: RunningAgent, peer: Handle, body: string) =>
  Effect.gen(function* () {
    const m = yield* a.agent.send(peer, body)
    yield* advanceUntil(
      Effect.map(a.agent.history({}), (h) => (h.find((x) => x.id === m.id)?.state === "delivered" ? true : undefined)),
      `"${body}" delivered`
    )
  })

const sessionCount = (a: RunningAgent) => Effect.map(a.agent.status, (s) => s.sessions.length)

describe("liveness", () => {
  it.scoped("keep-alive holds a quiet session; no application message for idleClose closes it", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ latency: "5 millis", seed: 2 })
      const [a, b] = yield* pair(
        [["2001:db8::a"], ["2001:db8::b"]],
        { keepAlive: "1 second", deadAfter: "3 seconds", idleClose: "20 seconds" },
        net
      )
      const events = yield* recordEvents(a!.agent)
      yield* deliveredTo(a!, bob, "hello")
      // Far longer than deadAfter without a message: only the pings keep it up.
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      expect(yield* sessionCount(a!)).toBe(1)
      expect(yield* sessionCount(b!)).toBe(1)
      expect(net.trace().filter((l) => / open #/.test(l))).toHaveLength(1)
      yield* TestClock.adjust("11 seconds")
      expect(yield* sessionCount(a!)).toBe(0)
      expect(yield* sessionCount(b!)).toBe(0)
      const downs = [...(yield* Queue.takeAll(events))].filter((e) => e._tag === "agent.SessionDown")
      expect(downs.map((e) => e._tag === "agent.SessionDown" && e.reason)).toEqual([expect.stringMatching(/idle/)])
    })
  )

  it.scoped("a partitioned peer is noticed after deadAfter; the message waiting is delivered after the heal", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ latency: "5 millis", seed: 3 })
      const [a, b] = yield* pair(
        [["2001:db8::a"], ["2001:db8::b"]],
        { keepAlive: "1 second", deadAfter: "3 seconds" },
        net
      )
      yield* deliveredTo(a!, bob, "before")
      yield* net.partition("2001:db8::a", "2001:db8::b")
      const m = yield* a!.agent.send(bob, "during")
      yield* TestClock.adjust("4 seconds")
      expect(yield* sessionCount(a!)).toBe(0)
      expect(yield* sessionCount(b!)).toBe(0)
      expect((yield* a!.agent.history({})).find((x) => x.id === m.id)?.state).not.toBe("delivered")
      yield* net.heal("2001:db8::a", "2001:db8::b")
      yield* advanceUntil(
        Effect.map(a!.agent.history({}), (h) =>
          h.find((x) => x.id === m.id)?.state === "delivered" ? true : undefined
        ),
        "delivery after the heal"
      )
      const got = (yield* b!.agent.history({})).filter((x) => x.direction === "in").map((x) => x.body)
      expect(got).toEqual(["before", "during"])
    })
  )

  it.scoped("Happy Eyeballs: IPv6 first; when it hangs, IPv4 starts after the stagger and wins", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ latency: "5 millis", seed: 4, partitionDial: "hang" })
      const [a] = yield* pair(
        [
          ["2001:db8::a", "10.0.0.1"],
          ["2001:db8::b", "10.0.0.2"]
        ],
        { dialStagger: "250 millis" },
        net
      )
      yield* net.partition("2001:db8::a", "2001:db8::b")
      yield* deliveredTo(a!, bob, "over v4")
      const session = (yield* a!.agent.status).sessions[0]!
      expect(session.remote).toEqual(makeAddress("10.0.0.2", 4605))
      const dials = net.trace().filter((l) => /unreachable|open #/.test(l))
      expect(dials).toEqual([
        "t=0 unreachable 2001:db8::a -> [2001:db8::b]:4605",
        "t=255 open #1 10.0.0.1:49152 -> 10.0.0.2:4605"
      ])
    })
  )

  it.scoped("Happy Eyeballs: a reachable IPv6 address wins alone", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ latency: "5 millis", seed: 5 })
      const [a] = yield* pair(
        [
          ["2001:db8::a", "10.0.0.1"],
          ["2001:db8::b", "10.0.0.2"]
        ],
        undefined,
        net
      )
      yield* deliveredTo(a!, bob, "over v6")
      expect((yield* a!.agent.status).sessions[0]!.remote).toEqual(makeAddress("2001:db8::b", 4605))
      expect(net.trace().filter((l) => / open #/.test(l))).toHaveLength(1)
    })
  )

  it("interleaves address families, IPv6 first, without duplicates", () => {
    const v6 = (n: number): Address => makeAddress(`2001:db8::${n}`, 1)
    const v4 = (n: number): Address => makeAddress(`10.0.0.${n}`, 1)
    expect(interleave([v4(1), v4(2), v6(1), v4(1), v6(2), v6(3)])).toEqual([v6(1), v4(1), v6(2), v4(2), v6(3)])
    expect(interleave([])).toEqual([])
  })
})
