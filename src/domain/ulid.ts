/**
 * ULID (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits, Crockford base32.
 * Pure: time and randomness come in.
 */
import type { Ulid } from "./brands.js"

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/** The 10 characters of the time part. */
const timeText = (timeMs: number): string => {
  let out = ""
  let t = Math.floor(timeMs)
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out
    t = Math.floor(t / 32)
  }
  return out
}

/** The 16 base32 digits (5 bits each, most significant first) of 10 random bytes. */
const randomDigits = (random: Uint8Array): Array<number> => {
  if (random.length !== 10) throw new RangeError("a ULID needs 10 random bytes")
  const digits: Array<number> = []
  let bits = 0
  let value = 0
  for (const b of random) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      digits.push((value >>> (bits - 5)) & 31)
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return digits
}

export const ulidFrom = (timeMs: number, random: Uint8Array): Ulid => {
  let out = timeText(timeMs)
  for (const d of randomDigits(random)) out += ALPHABET[d]!
  return out as Ulid
}

/**
 * A monotonic ULID source (the spec's "Monotonicity" section): the random part is drawn once per
 * millisecond, and each further id in the same millisecond is the previous one plus one in the least
 * significant bit. Ids of one source therefore sort in the order they were made, never repeat, and cost
 * one random draw per millisecond rather than one per id (the IRP client makes one per request).
 *
 * A clock that steps back keeps the last time, so ids still increase. Where the spec fails on overflow of
 * the 80-bit random part (2^80 ids in one millisecond, in practice never), this source moves on to the
 * next millisecond with a fresh draw: ids stay increasing and unique.
 */
export const monotonicUlids = (draw: () => Uint8Array): ((timeMs: number) => Ulid) => {
  let lastTime = -1
  let digits: Array<number> = []
  /** Time part plus the first 15 random digits: only the last digit changes on most calls. */
  let head = ""
  let last = 0
  const start = (timeMs: number) => {
    lastTime = timeMs
    digits = randomDigits(draw())
    last = digits[15]!
    rebuildHead()
  }
  const rebuildHead = () => {
    head = timeText(lastTime)
    for (let i = 0; i < 15; i++) head += ALPHABET[digits[i]!]!
  }
  return (timeMs) => {
    const t = Math.floor(timeMs)
    if (t > lastTime) start(t)
    else if (++last === 32) {
      // Carry into the higher digits.
      last = 0
      let i = 14
      while (i >= 0 && digits[i] === 31) digits[i--] = 0
      if (i < 0) start(lastTime + 1)
      else {
        digits[i]!++
        rebuildHead()
      }
    }
    return (head + ALPHABET[last]) as Ulid
  }
}

/** The millisecond time a ULID carries. */
export const ulidTime = (id: Ulid): number => {
  let t = 0
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!)
  return t
}
