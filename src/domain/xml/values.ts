/**
 * Lexical forms of typed values inside SixChat documents (brief section 3). Pure and strict: exactly one
 * spelling per value, so the bytes that were signed or hashed are the only bytes that decode to it.
 *
 * - binary: RFC 4648 base64, standard alphabet, padded, no whitespace, zero pad bits (canonical);
 * - fixed-size digests: lower-case hex;
 * - integers: decimal, no sign, no leading zeros.
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const SEXTET = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) SEXTET[ALPHABET.charCodeAt(i)] = i

const sextet = (text: string, i: number): number => {
  const c = text.charCodeAt(i)
  return c < 128 ? SEXTET[c]! : -1
}

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0))
const ascii = new TextDecoder()

export const base64Encode = (bytes: Uint8Array): string => {
  const n = bytes.length
  const out = new Uint8Array(Math.ceil(n / 3) * 4)
  let o = 0
  let i = 0
  for (; i + 2 < n; i += 3) {
    const t = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out[o++] = ALPHABET_CODES[t >>> 18]!
    out[o++] = ALPHABET_CODES[(t >>> 12) & 63]!
    out[o++] = ALPHABET_CODES[(t >>> 6) & 63]!
    out[o++] = ALPHABET_CODES[t & 63]!
  }
  if (i < n) {
    const t = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0)
    out[o++] = ALPHABET_CODES[t >>> 18]!
    out[o++] = ALPHABET_CODES[(t >>> 12) & 63]!
    out[o++] = i + 1 < n ? ALPHABET_CODES[(t >>> 6) & 63]! : 0x3d
    out[o] = 0x3d
  }
  return ascii.decode(out)
}

/** Strict RFC 4648 base64 (section 3.5 canonical encoding); `undefined` for any other spelling. */
export const base64Decode = (text: string): Uint8Array | undefined => {
  const n = text.length
  if (n % 4 !== 0) return undefined
  const pad = n === 0 || text.charCodeAt(n - 1) !== 0x3d ? 0 : text.charCodeAt(n - 2) === 0x3d ? 2 : 1
  const out = new Uint8Array((n / 4) * 3 - pad)
  const full = pad === 0 ? n : n - 4
  let o = 0
  for (let i = 0; i < full; i += 4) {
    const a = sextet(text, i)
    const b = sextet(text, i + 1)
    const c = sextet(text, i + 2)
    const d = sextet(text, i + 3)
    if ((a | b | c | d) < 0) return undefined
    out[o++] = (a << 2) | (b >> 4)
    out[o++] = ((b & 15) << 4) | (c >> 2)
    out[o++] = ((c & 3) << 6) | d
  }
  if (pad === 0) return out
  const a = sextet(text, n - 4)
  const b = sextet(text, n - 3)
  if ((a | b) < 0) return undefined
  out[o++] = (a << 2) | (b >> 4)
  if (pad === 2) return (b & 15) === 0 ? out : undefined
  const c = sextet(text, n - 2)
  if (c < 0 || (c & 3) !== 0) return undefined
  out[o] = ((b & 15) << 4) | (c >> 2)
  return out
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
