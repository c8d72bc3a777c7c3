/**
 * Handshake and records over an in-memory pipe: both roles, both providers, mixed providers,
 * every refusal the channel itself decides, rekeying, truncation and timeouts (TestClock).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Exit, Fiber, TestClock } from "effect"
import type { Handle } from "../../src/domain/brands.js"
import { FrameDecoder, RECORD_FRAME_LIMIT } from "../../src/domain/channel/framing.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import type { ChannelError, Expectation, SecureChannel } from "../../src/services/SecureChannel.js"
import { channelsFor, type PeerSetup, testMessage } from "../support/channels.js"
import { makeTestPki } from "../support/identities.js"
import { type PipeOptions, pipe } from "../support/pipe.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")
const other = makeTestPki("Other CA")
const mallory = other.identity("bob@example.org")
const serverOnly = pki.identity("carol@example.org", { eku: "serverAuth" })
const anchors = [pki.caDer]

const expectBob: Expectation = { _tag: "Handle", handle: "bob@example.org" as Handle }
const msg = testMessage

type Chan = SecureChannel<AppMessage, AppMessage>

/** Runs a handshake over a pipe; returns both sides' exits (the scope stays open until `use` is done). */
const handshake = <A, B>(
  init: PeerSetup,
  resp: PeerSetup,
  expect: Expectation,
  useInit: (c: Chan) => Effect.Effect<A, ChannelError>,
  useResp: (c: Chan) => Effect.Effect<B, ChannelError>,
  pipeOptions: PipeOptions = {},
  advance?: Duration.DurationInput
) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.now())
    const [a, b] = pipe(pipeOptions)
    const ci = yield* channelsFor(init)
    const cr = yield* channelsFor(resp)
    const fr = yield* Effect.fork(Effect.scoped(Effect.flatMap(cr.accept(b), useResp)))
    const fi = yield* Effect.fork(Effect.scoped(Effect.flatMap(ci.initiate(a, expect), useInit)))
    if (advance !== undefined) {
      yield* Effect.yieldNow()
      yield* TestClock.adjust(advance)
    }
    const ei = yield* Fiber.await(fi)
    const er = yield* Fiber.await(fr)
    return { ei, er }
  })

const failureOf = <A>(exit: Exit.Exit<A, ChannelError>): ChannelError | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

const converse = (c: Chan) =>
  Effect.gen(function* () {
    yield* c.send(msg("hello bob"))
    const got = yield* c.receive
    return { got, code: c.session.verificationCode, peer: c.peer.handle, suite: c.session.suite }
  })
const answer = (c: Chan) =>
  Effect.gen(function* () {
    const got = yield* c.receive
    yield* c.send(msg("hello alice"))
    const closed = yield* c.receive
    return { got, closed, code: c.session.verificationCode, peer: c.peer.handle }
  })

describe("handshake over a pipe", () => {
  for (const [pi, pr] of [
    ["node", "node"],
    ["noble", "noble"],
    ["noble", "node"],
    ["node", "noble"]
  ] as const) {
    it.effect(`${pi} initiator with ${pr} responder: authenticated both ways, messages flow, clean close`, () =>
      Effect.gen(function* () {
        const { ei, er } = yield* handshake(
          { identity: alice, anchors, provider: pi },
          { identity: bob, anchors, provider: pr },
          expectBob,
          converse,
          answer
        )
        const i = Exit.getOrElse(ei, (c) => {
          throw new Error(String(c))
        })
        const r = Exit.getOrElse(er, (c) => {
          throw new Error(String(c))
        })
        expect(i.peer).toBe("bob@example.org")
        expect(r.peer).toBe("alice@example.org")
        expect(i.suite).toBe("AES_256_GCM_SHA256")
        expect(i.code).toMatch(/^\d{4} \d{4} \d{4}$/)
        expect(i.code).toBe(r.code)
        expect(r.got).toMatchObject({ _tag: "Message", message: { body: "hello bob" } })
        expect(i.got).toMatchObject({ _tag: "Message", message: { body: "hello alice" } })
        expect(r.closed).toEqual({ _tag: "Closed", reason: undefined })
      })
    )
  }

  it.effect("refuses a responder whose identity is not the handle dialed (misbinding)", () =>
    Effect.gen(function* () {
      const { ei, er } = yield* handshake(
        { identity: alice, anchors },
        { identity: bob, anchors },
        { _tag: "Handle", handle: "dave@example.org" as Handle },
        converse,
        answer
      )
      expect(failureOf(ei)).toMatchObject({ reason: "Handshake", alert: "identity_mismatch" })
      expect(failureOf(er)).toMatchObject({ reason: "PeerAlert", alert: "identity_mismatch" })
    })
  )

  it.effect("refuses a responder certified by an unknown CA", () =>
    Effect.gen(function* () {
      const { ei, er } = yield* handshake(
        { identity: alice, anchors },
        { identity: mallory, anchors: [other.caDer] },
        expectBob,
        converse,
        answer
      )
      expect(failureOf(ei)).toMatchObject({ reason: "Handshake", alert: "unknown_ca" })
      expect(failureOf(er)?.reason).toBe("PeerAlert")
    })
  )

  it.effect("the responder refuses an initiator certified by an unknown CA", () =>
    Effect.gen(function* () {
      const eve = other.identity("eve@example.org")
      // The initiator reads first: a write after the peer's reset may fail with Reset before the alert is read.
      const { ei, er } = yield* handshake(
        { identity: eve, anchors },
        { identity: bob, anchors },
        expectBob,
        (c) => c.receive,
        answer
      )
      expect(failureOf(er)).toMatchObject({ reason: "Handshake", alert: "unknown_ca" })
      expect(failureOf(ei)).toMatchObject({ reason: "PeerAlert", alert: "unknown_ca" })
    })
  )

  it.effect("refuses a peer whose certificate lacks the clientAuth EKU", () =>
    Effect.gen(function* () {
      const { er } = yield* handshake(
        { identity: serverOnly, anchors },
        { identity: bob, anchors },
        expectBob,
        converse,
        answer
      )
      expect(failureOf(er)).toMatchObject({ reason: "Handshake", alert: "bad_certificate" })
    })
  )

  it.effect("refuses a peer presenting our own certificate (reflection)", () =>
    Effect.gen(function* () {
      const { ei } = yield* handshake(
        { identity: alice, anchors },
        { identity: alice, anchors },
        { _tag: "Handle", handle: "alice@example.org" as Handle },
        converse,
        answer
      )
      expect(failureOf(ei)).toMatchObject({ reason: "Handshake", alert: "bad_certificate" })
      expect(String((failureOf(ei)?.cause as { reason?: string })?.reason)).toBe("Reflection")
    })
  )

  it.effect("refuses an anonymous initiator unless the responder allows it", () =>
    Effect.gen(function* () {
      const refused = yield* handshake(
        { identity: null, anchors },
        { identity: bob, anchors },
        expectBob,
        converse,
        answer
      )
      expect(failureOf(refused.er)).toMatchObject({ reason: "Handshake", alert: "certificate_unknown" })
      const allowed = yield* handshake(
        { identity: null, anchors },
        { identity: bob, anchors, allowAnonymousPeer: true },
        expectBob,
        converse,
        answer
      )
      expect(Exit.isSuccess(allowed.ei)).toBe(true)
      expect(Exit.isSuccess(allowed.er) && allowed.er.value.peer).toBe(undefined)
    })
  )

  it.effect("rekeys by itself with a tiny limit, in both directions", () =>
    Effect.gen(function* () {
      let frames = 0
      const decoder = new FrameDecoder(RECORD_FRAME_LIMIT)
      const countFrames = (chunk: Uint8Array) => {
        decoder.push(chunk)
        while (decoder.next() !== undefined) frames++
        return chunk
      }
      const many = (n: number) => (c: Chan) =>
        Effect.gen(function* () {
          const bodies: Array<string> = []
          for (let k = 0; k < n; k++) {
            yield* c.send(msg(`m${k}`))
            const got = yield* c.receive
            if (got._tag === "Message" && got.message._tag === "e2e.Message") bodies.push(got.message.body)
          }
          return bodies
        })
      const { ei, er } = yield* handshake(
        { identity: alice, anchors, options: { rekeyAfterRecords: 3 } },
        { identity: bob, anchors, options: { rekeyAfterRecords: 2 } },
        expectBob,
        many(20),
        many(20),
        { tapAtoB: countFrames }
      )
      expect(Exit.isSuccess(ei) && ei.value).toEqual(Array.from({ length: 20 }, (_, k) => `m${k}`))
      expect(Exit.isSuccess(er) && er.value).toEqual(Array.from({ length: 20 }, (_, k) => `m${k}`))
      // Hello + Certificate, CertificateVerify, Finished + 20 messages + Close, plus a KeyUpdate as the 3rd
      // record under each key (the limit counts the KeyUpdate itself): before messages 3, 5, ..., 19.
      expect(frames).toBe(4 + 20 + 1 + 9)
    })
  )

  it.effect("reports truncation when the stream ends without <Close/>", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.now())
      const [a, b] = pipe()
      const ci = yield* channelsFor({ identity: alice, anchors })
      const cr = yield* channelsFor({ identity: bob, anchors })
      const fr = yield* Effect.fork(
        Effect.scoped(Effect.flatMap(cr.accept(b), () => b.end)) // ends TCP without <Close/>
      )
      const exit = yield* Effect.exit(Effect.scoped(Effect.flatMap(ci.initiate(a, expectBob), (c) => c.receive)))
      yield* Fiber.join(fr)
      expect(failureOf(exit)?.reason).toBe("Truncated")
    })
  )

  it.effect("times out a handshake the peer never answers (TestClock)", () =>
    Effect.gen(function* () {
      const [a] = pipe()
      const ci = yield* channelsFor({ identity: alice, anchors })
      const f = yield* Effect.fork(Effect.scoped(ci.initiate(a, expectBob)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("9 seconds")
      expect(f.unsafePoll()).toBe(null)
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.await(f)
      expect(failureOf(exit)?.reason).toBe("HandshakeTimeout")
    })
  )

  it.effect("ends an established channel that stays silent past the idle limit (TestClock)", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.now())
      const [a, b] = pipe()
      const ci = yield* channelsFor({ identity: alice, anchors, options: { idleTimeout: "30 seconds" } })
      const cr = yield* channelsFor({ identity: bob, anchors })
      const up = yield* Deferred.make<void>()
      const fr = yield* Effect.fork(Effect.scoped(Effect.flatMap(cr.accept(b), (c) => c.receive)))
      const fi = yield* Effect.fork(
        Effect.scoped(
          Effect.flatMap(ci.initiate(a, expectBob), (c) => Effect.zipRight(Deferred.succeed(up, undefined), c.receive))
        )
      )
      yield* Deferred.await(up)
      yield* TestClock.adjust("29 seconds")
      expect(fi.unsafePoll()).toBe(null)
      yield* TestClock.adjust("2 seconds")
      expect(failureOf(yield* Fiber.await(fi))?.reason).toBe("IdleTimeout")
      expect(failureOf(yield* Fiber.await(fr))).toMatchObject({ reason: "PeerAlert", alert: "timeout" })
    })
  )
})
