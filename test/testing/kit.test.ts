/**
 * The test kit (`sixchat/testing`) as a downstream user writes with it: two peers on the simulated network
 * under TestClock, certificates from the in-memory test PKI (no openssl), seeded Entropy.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import { connect, Network, peer, TestPki, world } from "../../src/testing/index.js"

const msg = (body: string): AppMessage => ({
  _tag: "e2e.Message",
  id: "01JDQ3ZV8Y6W4R2T0N9M7K5H3G" as never,
  sent: "1970-01-01T00:00:00Z" as never,
  body
})
const bodyOf = (inbound: { readonly _tag: string; readonly message?: AppMessage }) =>
  inbound.message?._tag === "e2e.Message" ? inbound.message.body : inbound._tag

it.layer(world({ latency: "20 millis", seed: "kit" }))("two peers on the simulated network", (it) => {
  it.effect("handshake and a message take simulated time only; a partition stalls them until healed", () =>
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

      // 20 ms one way: nothing has arrived after 10 ms, the message has after 20.
      const received = yield* Effect.fork(responder.receive)
      yield* initiator.send(msg("hello"))
      yield* TestClock.adjust("10 millis")
      expect(received.unsafePoll()).toBeNull()
      yield* TestClock.adjust("10 millis")
      const first = yield* Fiber.join(received)
      expect(bodyOf(first)).toBe("hello")

      const net = yield* Network
      yield* net.partition("2001:db8::a", "2001:db8::b")
      const stalled = yield* Effect.fork(responder.receive)
      yield* initiator.send(msg("after the partition"))
      yield* TestClock.adjust("5 seconds")
      expect(stalled.unsafePoll()).toBeNull()
      yield* net.heal("2001:db8::a", "2001:db8::b")
      yield* TestClock.adjust("20 millis")
      const second = yield* Fiber.join(stalled)
      expect(bodyOf(second)).toBe("after the partition")
    }).pipe(Effect.scoped)
  )

  it.effect("a peer whose certificate is from another PKI is refused at the handshake", () =>
    Effect.gen(function* () {
      const ours = yield* TestPki.make()
      const theirs = yield* TestPki.make()
      const alice = yield* peer(ours, "alice@example.org", "2001:db8::c")
      const mallory = yield* peer(theirs, "bob@example.org", "2001:db8::d")
      const session = yield* Effect.fork(Effect.flip(connect(alice, mallory, makeAddress("2001:db8::d", 4605))))
      yield* TestClock.adjust("1 second")
      const error = (yield* Fiber.join(session)) as { readonly reason?: string; readonly alert?: string }
      expect([error.reason, error.alert]).toContain("unknown_ca")
    }).pipe(Effect.scoped)
  )
})
