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

const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0))

/** The 16 base32 digits (5 bits each, most significant first) of 10 random bytes, into `out`. */
const fillDigits = (random: Uint8Array, out: Uint8Array): void => {
  if (random.length !== 10) throw new RangeError("a ULID needs 10 random bytes")
  // Two 40-bit halves, each 8 digits; 40 bits fit a double exactly.
  for (let half = 0; half < 2; half++) {
    let v = 0
    for (let i = 0; i < 5; i++) v = v * 256 + random[half * 5 + i]!
    for (let k = 7; k >= 0; k--) {
      out[half * 8 + k] = v % 32
      v = Math.floor(v / 32)
    }
  }
}

export const ulidFrom = (timeMs: number, random: Uint8Array): Ulid => {
  const digits = new Uint8Array(16)
  fillDigits(random, digits)
  let out = timeText(timeMs)
  for (const d of digits) out += ALPHABET[d]!
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
  /** The 16 random digits; the last one is kept in `last`. */
  const digits = new Uint8Array(16)
  /** Time part plus the first 15 random digits: only the last digit changes on most calls. */
  let head = ""
  let last = 0
  /** The first 9 time characters change only every 32 ms: kept with the time they were made for. */
  let highTime = -1
  let high = ""
  const rebuildHead = () => {
    if (Math.floor(lastTime / 32) !== highTime) {
      highTime = Math.floor(lastTime / 32)
      high = timeText(lastTime).slice(0, 9)
    }
    head =
      high +
      ALPHABET[lastTime % 32]! +
      String.fromCharCode(
        CODES[digits[0]!]!,
        CODES[digits[1]!]!,
        CODES[digits[2]!]!,
        CODES[digits[3]!]!,
        CODES[digits[4]!]!,
        CODES[digits[5]!]!,
        CODES[digits[6]!]!,
        CODES[digits[7]!]!,
        CODES[digits[8]!]!,
        CODES[digits[9]!]!,
        CODES[digits[10]!]!,
        CODES[digits[11]!]!,
        CODES[digits[12]!]!,
        CODES[digits[13]!]!,
        CODES[digits[14]!]!
      )
  }
  const start = (timeMs: number) => {
    lastTime = timeMs
    fillDigits(draw(), digits)
    last = digits[15]!
    rebuildHead()
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
