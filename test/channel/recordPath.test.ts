/**
 * The established channel's per-record path (issue 15): `FrameReader.frames`, which hands each frame to
 * the channel in the step that reads it, and `SecureChannel.trySend`, the send's fast path as a plain call.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, TestClock } from "effect"
import type { Handle } from "../../src/domain/brands.js"
import { encodeFrame, RECORD_FRAME_LIMIT } from "../../src/domain/channel/framing.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import { FrameReader } from "../../src/layers/channel/FrameIo.js"
import { ChannelError, type SecureChannel } from "../../src/services/SecureChannel.js"
import { type Connection, type OutBytes, TransportError } from "../../src/services/Transport.js"
import { concatParts } from "../../src/testing/simLinks.js"
import { channelsFor, testMessage } from "../support/channels.js"
import { makeTestPki } from "../support/identities.js"
import { pipe } from "../support/pipe.js"

/** A connection whose reads return `script` in order (a `TransportError` fails that read). */
const scripted = (script: ReadonlyArray<Uint8Array | null | TransportError>): Connection => {
  const left = [...script]
  return {
    local: "10.0.0.1:1" as never,
    remote: "10.0.0.2:2" as never,
    read: Effect.suspend(() => {
      const item = left.shift()
      if (item === undefined) return Effect.dieMessage("read past the script")
      return item instanceof TransportError ? Effect.fail(item) : Effect.succeed(item)
    }),
    write: () => Effect.void,
    end: Effect.void,
    destroy: Effect.void
  }
}

const bytes = (...values: ReadonlyArray<number>) => new Uint8Array(values)
const join = (...parts: ReadonlyArray<Uint8Array>) => concatParts(parts)

/** Every outcome `frames` hands over until the stream ends or fails, as plain values. */
const readAll = (conn: Connection) =>
  Effect.gen(function* () {
    const reader = new FrameReader(conn, RECORD_FRAME_LIMIT)
    const next = reader.frames((frame) =>
      Effect.succeed(frame === null ? null : frame instanceof ChannelError ? frame : [...frame])
    )
    const seen: Array<ReadonlyArray<number> | null | ChannelError> = []
    for (;;) {
      const item = yield* next()
      seen.push(item)
      if (item === null || item instanceof ChannelError) return seen
    }
  })

describe("FrameReader.frames", () => {
  it.effect("a frame straddling three reads, then two frames in one read, then a clean end", () =>
    Effect.gen(function* () {
      const one = encodeFrame(bytes(1, 2, 3, 4, 5, 6, 7))
      const two = encodeFrame(bytes(8))
      const three = encodeFrame(bytes(9, 10))
      const seen = yield* readAll(
        scripted([one.subarray(0, 2), one.subarray(2, 6), one.subarray(6), join(two, three), null])
      )
      expect(seen).toEqual([[1, 2, 3, 4, 5, 6, 7], [8], [9, 10], null])
    })
  )

  it.effect("the end of a frame and the start of the next in one read", () =>
    Effect.gen(function* () {
      const one = encodeFrame(bytes(1, 2, 3))
      const two = encodeFrame(bytes(4, 5, 6))
      const stream = join(one, two)
      const seen = yield* readAll(scripted([stream.subarray(0, 5), stream.subarray(5, 9), stream.subarray(9), null]))
      expect(seen).toEqual([[1, 2, 3], [4, 5, 6], null])
    })
  )

  it.effect("a stream that ends inside a frame is a torn frame (record_overflow), not a clean end", () =>
    Effect.gen(function* () {
      const one = encodeFrame(bytes(1, 2, 3))
      const seen = yield* readAll(scripted([one, encodeFrame(bytes(4, 5, 6)).subarray(0, 5), null]))
      expect(seen[0]).toEqual([1, 2, 3])
      expect(seen[1]).toMatchObject({ _tag: "ChannelError", reason: "Frame", alert: "record_overflow" })
      expect(seen).toHaveLength(2)
    })
  )

  it.effect("a failed read and an oversized frame come as failures, as values", () =>
    Effect.gen(function* () {
      const failed = yield* readAll(
        scripted([new TransportError({ reason: "Reset", message: "connection reset by peer" })])
      )
      expect(failed).toEqual([expect.objectContaining({ reason: "Transport" })])
      const header = new Uint8Array(4)
      new DataView(header.buffer).setUint32(0, RECORD_FRAME_LIMIT + 1)
      const oversized = yield* readAll(scripted([header]))
      expect(oversized).toEqual([expect.objectContaining({ reason: "Frame", alert: "record_overflow" })])
    })
  )
})

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")
const anchors = [pki.caDer]
const msg = testMessage
type Chan = SecureChannel<AppMessage, AppMessage>

/**
 * Both ends of an established channel over a pipe whose initiator side has a `tryWrite` (as TCP has):
 * it takes the bytes at once unless `held.back` is set (a transport waiting for `drain`).
 */
const established = <A>(
  use: (a: Chan, b: Chan, held: { back: boolean; written: number }) => Effect.Effect<A, unknown>
) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.now())
    const [rawA, b] = pipe()
    const held = { back: false, written: 0 }
    const a: Connection = {
      ...rawA,
      tryWrite: (make: () => OutBytes) => {
        if (held.back) return false
        // As TCP's: the bytes are made first (a failing encoder leaves nothing written).
        const out = make()
        held.written++
        Effect.runSync(rawA.write(out))
        return true
      }
    }
    const ci = yield* channelsFor({ identity: alice, anchors })
    const cr = yield* channelsFor({ identity: bob, anchors })
    const responder = yield* Effect.fork(Effect.scoped(Effect.flatMap(cr.accept(b), (chan) => Effect.succeed(chan))))
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const chanA = yield* ci.initiate(a, { _tag: "Handle", handle: "bob@example.org" as Handle })
        const chanB = yield* Fiber.join(responder)
        return yield* use(chanA, chanB, held)
      })
    )
  })

const bodyOf = (inbound: { readonly _tag: string; readonly message?: AppMessage }) =>
  inbound._tag === "Message" && inbound.message?._tag === "e2e.Message" ? inbound.message.body : inbound._tag

describe("SecureChannel.trySend", () => {
  it.effect("sends at once when the transport takes the bytes; otherwise sends nothing and send does it", () =>
    established((a, b, held) =>
      Effect.gen(function* () {
        expect(a.trySend).toBeDefined()
        const before = held.written
        expect(a.trySend!(msg("at once"))).toBe(true)
        expect(held.written).toBe(before + 1)
        expect(bodyOf(yield* b.receive)).toBe("at once")

        held.back = true
        expect(a.trySend!(msg("held back"))).toBe(false)
        // Nothing of it went out: the next record the peer reads is the one `send` writes.
        yield* a.send(msg("through send"))
        expect(bodyOf(yield* b.receive)).toBe("through send")
        held.back = false
        expect(a.trySend!(msg("again"))).toBe(true)
        expect(bodyOf(yield* b.receive)).toBe("again")
      })
    )
  )

  it.effect("an oversized document: nothing sent, send fails with Frame, and the channel goes on", () =>
    established((a, b, held) =>
      Effect.gen(function* () {
        const before = held.written
        const big = msg("x".repeat(70_000))
        expect(a.trySend!(big)).toBe(false)
        expect(held.written).toBe(before)
        const exit = yield* Effect.exit(a.send(big))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason).toBe("Frame")
        expect(a.trySend!(msg("small"))).toBe(true)
        expect(bodyOf(yield* b.receive)).toBe("small")
      })
    )
  )

  it.effect("send takes the same path when nothing stands in the way: one write each, in order with trySend", () =>
    established((a, b, held) =>
      Effect.gen(function* () {
        const before = held.written
        yield* a.send(msg("one"))
        expect(held.written).toBe(before + 1)
        expect(a.trySend!(msg("two"))).toBe(true)
        yield* a.send(msg("three"))
        expect(held.written).toBe(before + 3)
        for (const body of ["one", "two", "three"]) expect(bodyOf(yield* b.receive)).toBe(body)
      })
    )
  )

  it.effect("after close it sends nothing, and send reports the closed channel", () =>
    established((a) =>
      Effect.gen(function* () {
        yield* a.close()
        expect(a.trySend!(msg("late"))).toBe(false)
        const exit = yield* Effect.exit(a.send(msg("late")))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason).toBe("Closed")
      })
    )
  )
})
