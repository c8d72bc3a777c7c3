/** Byte-string helpers shared by the domain and the layers. */

const HEX_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** Lower-case hex of `bytes` (or of `bytes[from, to)`), two digits a byte. */
export const hex = (bytes: Uint8Array, from = 0, to = bytes.length): string => {
  let s = ""
  for (let i = from; i < to; i++) s += HEX_DIGITS[bytes[i]!]
  return s
}

/** The parts, one after the other, in a new array. */
export const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
