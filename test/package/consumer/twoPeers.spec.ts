// A deterministic two-peer test written against `sixchat/testing` only, as a downstream user would.
import { expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeAddress } from "sixchat"
import { connect, peer, TestPki, world } from "sixchat/testing"

it.layer(world({ latency: "30 millis", seed: "consumer" }))("two peers", (it) => {
  it.effect("alice and bob agree on the verification code over the simulated network", () =>
    Effect.gen(function* () {
      const pki = yield* TestPki.make()
      const alice = yield* peer(pki, "alice@example.org", "2001:db8::a")
      const bob = yield* peer(pki, "bob@example.org", "2001:db8::b")
      const session = yield* Effect.fork(connect(alice, bob, makeAddress("2001:db8::b", 4605)))
      yield* TestClock.adjust("1 second")
      const { initiator, responder } = yield* Fiber.join(session)
      expect(initiator.peer.handle).toBe("bob@example.org")
      expect(responder.peer.handle).toBe("alice@example.org")
      expect(initiator.session.verificationCode).toBe(responder.session.verificationCode)
    }).pipe(Effect.scoped)
  )
})
