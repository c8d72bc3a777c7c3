/**
 * Entropy: the seeded generator reproduces its stream (and is ChaCha20 as documented); the
 * system generator yields fresh bytes.
 */
import { it } from "@effect/vitest"
import { chacha20 } from "@noble/ciphers/chacha.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import * as EntropyLive from "../../src/layers/EntropyLive.js"
import { Entropy } from "../../src/services/Entropy.js"
import { toHex } from "./wycheproof.js"

const draw = (lengths: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const entropy = yield* Entropy
    return lengths.map((n) => entropy.bytes(n))
  })

describe("EntropyLive.seeded", () => {
  it.effect("the same seed gives the same bytes, on every build of the layer", () =>
    Effect.gen(function* () {
      const first = yield* draw([32, 7, 1000]).pipe(Effect.provide(EntropyLive.seeded("alice")))
      const again = yield* draw([32, 7, 1000]).pipe(Effect.provide(EntropyLive.seeded("alice")))
      const other = yield* draw([32, 7, 1000]).pipe(Effect.provide(EntropyLive.seeded("bob")))
      expect(first.map(toHex)).toEqual(again.map(toHex))
      expect(toHex(first[0]!)).not.toBe(toHex(other[0]!))
      expect(first.map((b) => b.length)).toEqual([32, 7, 1000])
    })
  )

  it("is one stream: split draws concatenate to one large draw", () => {
    const split = EntropyLive.seededService("stream")
    const whole = EntropyLive.seededService("stream").bytes(200)
    const parts = [3, 61, 0, 64, 72].map((n) => split.bytes(n))
    expect(toHex(Uint8Array.from(parts.flatMap((p) => [...p])))).toBe(toHex(whole))
  })

  it("is the ChaCha20 keystream under SHA-256(seed), zero nonce (RFC 8439)", () => {
    const seed = new TextEncoder().encode("documented")
    const expected = chacha20(sha256(seed), new Uint8Array(12), new Uint8Array(300))
    expect(toHex(EntropyLive.seededService("documented").bytes(300))).toBe(toHex(expected))
    expect(toHex(EntropyLive.seededService(seed).bytes(300))).toBe(toHex(expected))
  })

  it("hands out independent arrays and refuses bad lengths", () => {
    const entropy = EntropyLive.seededService("x")
    const a = entropy.bytes(16)
    const copy = toHex(a)
    entropy.bytes(16).fill(0)
    expect(toHex(a)).toBe(copy)
    expect(() => entropy.bytes(-1)).toThrow(RangeError)
    expect(() => entropy.bytes(1.5)).toThrow(RangeError)
  })
})

describe("EntropyLive.layer", () => {
  it.effect("draws fresh bytes from the OS", () =>
    Effect.gen(function* () {
      const [a, b, empty] = yield* draw([32, 32, 0]).pipe(Effect.provide(EntropyLive.layer))
      expect(a!.length).toBe(32)
      expect(toHex(a!)).not.toBe(toHex(b!))
      expect(empty!.length).toBe(0)
    })
  )
})

describe("EntropyLive.system (small draws cut from a block, issue 15)", () => {
  it("hands out every byte once, each draw in its own buffer, across block boundaries", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 600; i++) {
      const n = [32, 12, 1, 256, 0][i % 5]!
      const b = EntropyLive.system.bytes(n)
      expect(b.length).toBe(n)
      expect(b.buffer.byteLength).toBe(n)
      if (n >= 12) seen.add(Buffer.from(b).toString("hex"))
    }
    expect(seen.size).toBe(360)
    expect(EntropyLive.system.bytes(5000).length).toBe(5000)
  })
})
