/**
 * Any single flipped bit in any handshake or record frame ends the connection with a typed error
 * (PROTOCOL.md §§3, 6, 11). A man in the middle flips one bit of one direction's byte stream; the
 * exchange (handshake, one message each way, Close both ways) must then fail on at least one side,
 * and every failure must be a ChannelError — never a defect, never a hang (timeouts run on TestClock).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, TestClock } from "effect"
import type { Handle } from "../../src/domain/brands.js"
import { FrameDecoder, RECORD_FRAME_LIMIT } from "../../src/domain/channel/framing.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import { ChannelError, type SecureChannel } from "../../src/services/SecureChannel.js"
import { channelsFor } from "../support/channels.js"
import { makeTestPki } from "../support/identities.js"
import { pipe } from "../support/pipe.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")
const anchors = [pki.caDer]
const options = { idleTimeout: "20 seconds", handshakeTimeout: "10 seconds" } as const
type Chan = SecureChannel<AppMessage, AppMessage>
const msg = (body: string): AppMessage => ({
  _tag: "e2e.Message",
  id: "01JDQ3ZV8Y6W4R2T0N9M7K5H3G" as never,
  sent: "2026-11-26T12:00:00Z" as never,
  body
})

const initiatorScript = (c: Chan) =>
  Effect.gen(function* () {
    yield* c.send(msg("ping"))
    const reply = yield* c.receive
    if (reply._tag !== "Message") return yield* new ChannelError({ reason: "UnexpectedMessage", message: "no reply" })
    yield* c.close()
    const end = yield* c.receive
    if (end._tag !== "Closed") return yield* new ChannelError({ reason: "UnexpectedMessage", message: "no close" })
  })
const responderScript = (c: Chan) =>
  Effect.gen(function* () {
    const got = yield* c.receive
    if (got._tag !== "Message") return yield* new ChannelError({ reason: "UnexpectedMessage", message: "no message" })
    yield* c.send(msg("pong"))
    const end = yield* c.receive
    if (end._tag !== "Closed") return yield* new ChannelError({ reason: "UnexpectedMessage", message: "no close" })
  })

type Flip = { readonly dir: "ab" | "ba"; readonly bit: number } | undefined

const exchange = (flip: Flip, onBytes?: (dir: "ab" | "ba", chunk: Uint8Array) => void) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(Date.now())
    const tap = (dir: "ab" | "ba") => (chunk: Uint8Array, offset: number) => {
      onBytes?.(dir, chunk)
      if (flip === undefined || flip.dir !== dir) return chunk
      const byte = flip.bit >> 3
      if (byte < offset || byte >= offset + chunk.length) return chunk
      const out = chunk.slice()
      out[byte - offset]! ^= 1 << (flip.bit & 7)
      return out
    }
    const [a, b] = pipe({ tapAtoB: tap("ab"), tapBtoA: tap("ba") })
    const ci = yield* channelsFor({ identity: alice, anchors, options })
    const cr = yield* channelsFor({ identity: bob, anchors, options })
    const fr = yield* Effect.fork(Effect.scoped(Effect.flatMap(cr.accept(b), responderScript)))
    const fi = yield* Effect.fork(
      Effect.scoped(
        Effect.flatMap(ci.initiate(a, { _tag: "Handle", handle: "bob@example.org" as Handle }), initiatorScript)
      )
    )
    for (let k = 0; k < 4 && (fi.unsafePoll() === null || fr.unsafePoll() === null); k++)
      yield* TestClock.adjust("15 seconds")
    return { ei: yield* Fiber.await(fi), er: yield* Fiber.await(fr) }
  })

/** Frame boundaries of each direction in a clean run: [start, length] of every frame. */
const frameMap = (bytes: Uint8Array): Array<[number, number]> => {
  const d = new FrameDecoder(RECORD_FRAME_LIMIT)
  d.push(bytes)
  const out: Array<[number, number]> = []
  let at = 0
  for (let f = d.next(); f instanceof Uint8Array; f = d.next()) {
    out.push([at, f.length + 4])
    at += f.length + 4
  }
  return out
}

const typedOrSuccess = (exit: Exit.Exit<void, ChannelError>) =>
  Exit.isSuccess(exit) || (Cause.failureOption(exit.cause)._tag === "Some" && !Cause.isDie(exit.cause))

describe("single bit flips", () => {
  // 60 s: a flipped header in the closing side's <Close/> now ends by the idle limit (§11.9: no FIN
  // before the peer's <Close/>), which costs more simulated timers than the FIN that used to end it.
  it.effect(
    "every flipped bit in every frame header, and sampled bits of every frame body, is caught",
    () =>
      Effect.gen(function* () {
        const streams = { ab: [] as Array<Uint8Array>, ba: [] as Array<Uint8Array> }
        const clean = yield* exchange(undefined, (dir, chunk) => streams[dir].push(chunk))
        expect(Exit.isSuccess(clean.ei) && Exit.isSuccess(clean.er)).toBe(true)
        let seed = 12345
        const rand = (n: number) => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff
          return seed % n
        }
        const flips: Array<NonNullable<Flip>> = []
        for (const dir of ["ab", "ba"] as const) {
          const frames = frameMap(Buffer.concat(streams[dir]))
          expect(frames.length).toBeGreaterThanOrEqual(4)
          for (const [start, length] of frames) {
            for (let bit = 0; bit < 32; bit++) flips.push({ dir, bit: start * 8 + bit })
            for (let k = 0; k < 8; k++) flips.push({ dir, bit: (start + 4 + rand(length - 4)) * 8 + rand(8) })
          }
        }
        const failures: Array<string> = []
        for (const flip of flips) {
          const { ei, er } = yield* exchange(flip)
          if (!typedOrSuccess(ei) || !typedOrSuccess(er)) failures.push(`untyped failure at ${flip.dir}:${flip.bit}`)
          if (Exit.isSuccess(ei) && Exit.isSuccess(er)) failures.push(`undetected flip at ${flip.dir}:${flip.bit}`)
        }
        expect(failures).toEqual([])
        expect(flips.length).toBeGreaterThan(300)
      }),
    120_000
  )
})
