/**
 * Lexical forms of typed values inside SixChat documents (PROTOCOL.md §4). Pure and strict: exactly one
 * spelling per value, so the bytes that were signed or hashed are the only bytes that decode to it.
 *
 * - binary: RFC 4648 base64, standard alphabet, padded, no whitespace, zero pad bits (canonical);
 * - fixed-size digests: lower-case hex;
 * - integers: decimal, no sign, no leading zeros.
 */
/** A Buffer view of `bytes` (no copy), for Node's native base64 codec. */
const bufferOf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)

/**
 * Canonical base64 of `bytes`. Node's native codec: about six times faster than a JavaScript loop on a
 * certificate, and every IRP answer carries some.
 */
export const base64Encode = (bytes: Uint8Array): string => bufferOf(bytes).toString("base64")

/**
 * Base64 of certificates already written, by array: an IRP server answers Lookups from cached answers
 * that hold the same certificate arrays, and every handshake sends our own chain, the same arrays each
 * time (~1 KB each). Keyed weakly, so it holds nothing the callers do not. Certificate arrays are never
 * written to once made (nothing in SixChat modifies DER in place); a caller that did would have to
 * hand over a new array.
 */
const certificateText = new WeakMap<Uint8Array, string>()
export const certificateBase64 = (der: Uint8Array): string => {
  let text = certificateText.get(der)
  if (text === undefined) {
    text = base64Encode(der)
    certificateText.set(der, text)
  }
  return text
}

/**
 * Strict RFC 4648 base64 (section 3.5 canonical encoding); `undefined` for any other spelling.
 *
 * Node's decoder is lenient (it skips whitespace and unknown characters, takes base64url, tolerates
 * missing padding and non-zero pad bits), so the text is accepted only when encoding the decoded bytes
 * gives it back exactly: canonical encodings are unique, so that holds for them and for nothing else.
 * The bytes land in a fresh array of their own, never in a view of Node's shared buffer pool.
 */
export const base64Decode = (text: string): Uint8Array | undefined => {
  const n = text.length
  if (n % 4 !== 0) return undefined
  const pad = n === 0 || text.charCodeAt(n - 1) !== 0x3d ? 0 : text.charCodeAt(n - 2) === 0x3d ? 2 : 1
  const out = new Uint8Array((n / 4) * 3 - pad)
  const view = bufferOf(out)
  return view.write(text, "base64") === out.length && view.toString("base64") === text ? out : undefined
}

const HEX = "0123456789abcdef"

export const hexEncode = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]! >> 4]! + HEX[bytes[i]! & 15]!
  return out
}

/** Lower-case hex only; `undefined` for odd length, upper case or any other character. */
export const hexDecode = (text: string): Uint8Array | undefined => {
  if (text.length % 2 !== 0) return undefined
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) {
    const hi = HEX.indexOf(text[2 * i]!)
    const lo = HEX.indexOf(text[2 * i + 1]!)
    if (hi < 0 || lo < 0) return undefined
    out[i] = (hi << 4) | lo
  }
  return out
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/

/** A non-negative decimal of at most `maxDigits` digits without leading zeros; `undefined` otherwise. */
export const decimalBigInt = (text: string, maxDigits = 19): bigint | undefined =>
  text.length <= maxDigits && DECIMAL.test(text) ? BigInt(text) : undefined

/** As `decimalBigInt`, for values that fit a JS number exactly (at most 15 digits). */
export const decimalInt = (text: string, maxDigits = 15): number | undefined =>
  text.length <= Math.min(maxDigits, 15) && DECIMAL.test(text) ? Number(text) : undefined

const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`)
const three = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`)
/** 9999-12-31T23:59:59.999Z: the last instant with a four-digit year. */
const LAST_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999

/**
 * RFC 3339 UTC with milliseconds (`2026-11-26T12:00:00.000Z`), exactly as `Date.prototype.toISOString`
 * writes it. Whole milliseconds from 1970 to 9999 are computed directly (the civil-from-days algorithm
 * of H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"), at a fraction of the cost of a `Date`;
 * anything else goes to `toISOString`.
 */
export const formatUtcTimestamp = (ms: number): string => {
  if (!Number.isInteger(ms) || ms < 0 || ms > LAST_FOUR_DIGIT_YEAR_MS) return new Date(ms).toISOString()
  const days = Math.floor(ms / 86_400_000)
  let rest = ms - days * 86_400_000
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const mi = Math.floor(rest / 60_000)
  rest -= mi * 60_000
  const s = Math.floor(rest / 1000)
  return `${y}-${two(m)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}.${three(rest - s * 1000)}Z`
}

const digitAt = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 0x30
  return d >= 0 && d <= 9 ? d : -1
}

/** The value of the `n` decimal digits at `i`, or -1 unless all of them are digits. */
const digitsAt = (s: string, i: number, n: number): number => {
  let v = 0
  for (let k = i; k < i + n; k++) {
    const d = digitAt(s, k)
    if (d < 0) return -1
    v = v * 10 + d
  }
  return v
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

/**
 * Epoch ms of an RFC 3339 UTC timestamp `YYYY-MM-DDThh:mm:ss[.f{1,9}]Z` (fraction truncated to ms);
 * `undefined` unless it names a real instant: no February 30th, no hour 24, no leap second, and no year
 * before 0100 (which `Date.UTC` would read as 19xx). Hand-written (one pass, no regex, no allocation):
 * every IRP binding carries one.
 */
export const parseUtcTimestamp = (text: string): number | undefined => {
  const n = text.length
  if (n < 20 || n > 30 || text.charCodeAt(n - 1) !== 0x5a /* Z */) return undefined
  if (
    text.charCodeAt(4) !== 0x2d ||
    text.charCodeAt(7) !== 0x2d ||
    text.charCodeAt(10) !== 0x54 /* T */ ||
    text.charCodeAt(13) !== 0x3a ||
    text.charCodeAt(16) !== 0x3a
  )
    return undefined
  const y = digitsAt(text, 0, 4)
  const mo = digitsAt(text, 5, 2)
  const d = digitsAt(text, 8, 2)
  const h = digitsAt(text, 11, 2)
  const mi = digitsAt(text, 14, 2)
  const s = digitsAt(text, 17, 2)
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return undefined
  if (d > (mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]!)) return undefined
  let ms = 0
  if (n > 20) {
    // `.` and 1 to 9 digits before the Z.
    if (text.charCodeAt(19) !== 0x2e || n === 21) return undefined
    for (let i = 20; i < n - 1; i++) {
      const digit = digitAt(text, i)
      if (digit < 0) return undefined
      if (i < 23) ms = ms * 10 + digit
    }
    for (let i = Math.min(n - 1, 23); i < 23; i++) ms *= 10
  }
  return Date.UTC(y, mo - 1, d, h, mi, s, ms)
}
