/**
 * ULID (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits, Crockford base32.
 * Pure: time and randomness come in.
 */
import type { Ulid } from "./brands.js"

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

export const ulidFrom = (timeMs: number, random: Uint8Array): Ulid => {
  if (random.length !== 10) throw new RangeError("a ULID needs 10 random bytes")
  let out = ""
  let t = Math.floor(timeMs)
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out
    t = Math.floor(t / 32)
  }
  let bits = 0
  let value = 0
  for (const b of random) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]!
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return out as Ulid
}

/** The millisecond time a ULID carries. */
export const ulidTime = (id: Ulid): number => {
  let t = 0
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!)
  return t
}
