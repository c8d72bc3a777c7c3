/**
 * Simultaneous open (PROTOCOL.md §15) on the simulated network with the TestClock: both agents dial
 * each other at the same instant, both handshakes complete, and both sides keep the connection whose
 * initiator has the smaller SPKI fingerprint; the other is closed with `<Close reason="duplicate"/>`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import { makeTestPki } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import * as SimNetwork from "../../support/SimNetwork.js"
import { advanceUntil, localIdentity, memoryStore, startAgent } from "./helpers.js"

const pki = makeTestPki()
const anchors = [pki.caDer]
const ids = [pki.identity("alice@example.org"), pki.identity("bob@example.org")] as const
const START = Date.now() + 60_000

describe("simultaneous open", () => {
  it.scoped("both dial at once: both sides keep the connection initiated by the smaller fingerprint", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const net = yield* SimNetwork.make({ latency: "10 millis", seed: 1 })
      const directory = yield* MemoryDirectory.make
      const hosts = ["2001:db8::a", "2001:db8::b"] as const
      const [a, b] = yield* Effect.forEach([0, 1] as const, (k) =>
        startAgent({
          identity: ids[k],
          anchors,
          directory,
          transport: net.transportFor(hosts[k]),
          store: memoryStore(),
          listen: [makeAddress(hosts[k], 4605)],
          seed: `simultaneous/${k}`
        })
      )
      const alice = Handle.make(ids[0].handle)
      const bob = Handle.make(ids[1].handle)
      const [ma, mb] = yield* Effect.all([a!.agent.send(bob, "a->b"), b!.agent.send(alice, "b->a")], {
        concurrency: "unbounded"
      })
      const settled = yield* advanceUntil(
        Effect.gen(function* () {
          const ha = yield* a!.agent.history({})
          const hb = yield* b!.agent.history({})
          const sa = (yield* a!.agent.status).sessions
          const sb = (yield* b!.agent.status).sessions
          const done =
            ha.find((m) => m.id === ma.id)?.state === "delivered" &&
            hb.find((m) => m.id === mb.id)?.state === "delivered" &&
            sa.length === 1 &&
            sb.length === 1 &&
            sa[0]!.sessionCode === sb[0]!.sessionCode
          return done ? { sa: sa[0]!, sb: sb[0]! } : undefined
        }),
        "both delivered over one session"
      )
      // Both dials reached the other side: this was a real simultaneous open.
      const opens = net.trace().filter((line) => / open #\d+ /.test(line))
      expect(opens).toHaveLength(2)
      const aliceFp = localIdentity(ids[0]).fingerprint
      const bobFp = localIdentity(ids[1]).fingerprint
      const smallerIsAlice = aliceFp < bobFp
      expect(settled.sa.role).toBe(smallerIsAlice ? "initiator" : "responder")
      expect(settled.sb.role).toBe(smallerIsAlice ? "responder" : "initiator")
      // What `contact show` prints is the code of the session kept, on both sides.
      expect((yield* a!.agent.contact(bob)).sessionCode).toBe(settled.sa.sessionCode)
      expect((yield* b!.agent.contact(alice)).sessionCode).toBe(settled.sb.sessionCode)
      // One message each way, once.
      expect((yield* b!.agent.history({})).filter((m) => m.direction === "in").map((m) => m.body)).toEqual(["a->b"])
      expect((yield* a!.agent.history({})).filter((m) => m.direction === "in").map((m) => m.body)).toEqual(["b->a"])
      // The loser is closed and stays closed: a while later still one session each.
      yield* TestClock.adjust("5 seconds")
      expect((yield* a!.agent.status).sessions).toHaveLength(1)
      expect((yield* b!.agent.status).sessions).toHaveLength(1)
    })
  )
})
