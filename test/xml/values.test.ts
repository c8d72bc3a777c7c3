/**
 * Lexical forms against reference implementations: the native-codec base64 must accept exactly the
 * canonical spellings a plain RFC 4648 section 3.5 decoder accepts (and give the same bytes), and the
 * hand-written RFC 3339 reader exactly the instants the regular-expression reader accepted.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { base64Decode, base64Encode, parseUtcTimestamp } from "../../src/domain/xml/values.js"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** The strict decoder this module used before it took Node's codec: the reference. */
const referenceBase64 = (text: string): Uint8Array | undefined => {
  const n = text.length
  if (n % 4 !== 0) return undefined
  const pad = n === 0 || text[n - 1] !== "=" ? 0 : text[n - 2] === "=" ? 2 : 1
  const sextets: Array<number> = []
  for (let i = 0; i < n - pad; i++) {
    const v = ALPHABET.indexOf(text[i]!)
    if (v < 0) return undefined
    sextets.push(v)
  }
  const last = sextets[sextets.length - 1] ?? 0
  if ((pad === 1 && (last & 3) !== 0) || (pad === 2 && (last & 15) !== 0)) return undefined
  const out: Array<number> = []
  let bits = 0
  let value = 0
  for (const s of sextets) {
    value = (value << 6) | s
    bits += 6
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Uint8Array.from(out)
}

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

/** The regular-expression reader used before: the reference. */
const referenceTimestamp = (text: string): number | undefined => {
  const m = RFC3339_UTC.exec(text)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const ms = Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3))
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  const back = new Date(t)
  return back.getUTCFullYear() === y &&
    back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === mi &&
    back.getUTCSeconds() === s
    ? t
    : undefined
}

const base64Char = fc.constantFrom(
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\u00e9\uFF21"
)

describe("base64", () => {
  it("round-trips bytes, with a fresh array of its own", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base64Encode(bytes)
        expect(text).toBe(Buffer.from(bytes).toString("base64"))
        const back = base64Decode(text)!
        expect(back).toEqual(bytes)
        expect(back.constructor).toBe(Uint8Array)
        expect(back.byteOffset).toBe(0)
        expect(back.buffer.byteLength).toBe(bytes.length)
      }),
      { numRuns: 500, seed: 1 }
    )
    const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)
    expect(base64Encode(view)).toBe("AQID")
  })

  it("accepts exactly what the strict reference decoder accepts", () => {
    const mutated = fc
      .tuple(fc.uint8Array({ maxLength: 40 }), fc.array(fc.tuple(fc.nat(), base64Char), { maxLength: 3 }))
      .map(([bytes, edits]) => {
        const chars = [...base64Encode(bytes)]
        for (const [at, c] of edits) if (chars.length > 0) chars[at % chars.length] = c
        return chars.join("")
      })
    const dropped = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat()).map(([bytes, at]) => {
      const text = base64Encode(bytes)
      return text.slice(0, at % text.length) + text.slice((at % text.length) + 1)
    })
    fc.assert(
      fc.property(fc.oneof(mutated, dropped, fc.string({ unit: base64Char, maxLength: 12 })), (text) => {
        expect(base64Decode(text)).toEqual(referenceBase64(text))
      }),
      { numRuns: 5000, seed: 2 }
    )
    for (const odd of ["", "=", "==", "A===", "QQ", "QQ=", "QR==", "QUI=", "QUJ=", "QUJD", "QUJD\n", "Q Q==", "QQ-_"])
      expect(base64Decode(odd), odd).toEqual(referenceBase64(odd))
    // Every character before one or two pads (the pad bits), and pads where they do not belong.
    for (const c of ALPHABET + "=-_ \u00e9")
      for (const text of [`AA${c}=`, `A${c}==`, `${c}AAA`, `QUJD${c}A==`, `AA=${c}`, `A=${c}=`, `AAA=AAAA`, "===="])
        expect(base64Decode(text), text).toEqual(referenceBase64(text))
  })
})

describe("RFC 3339 UTC timestamps", () => {
  const pad = (v: number, w: number) => String(v).padStart(w, "0")
  const near = fc
    .record({
      y: fc.integer({ min: 0, max: 9999 }),
      mo: fc.integer({ min: 0, max: 13 }),
      d: fc.integer({ min: 0, max: 32 }),
      h: fc.integer({ min: 0, max: 25 }),
      mi: fc.integer({ min: 0, max: 61 }),
      s: fc.integer({ min: 0, max: 61 }),
      f: fc.option(fc.stringMatching(/^[0-9]{0,10}$/), { nil: undefined }),
      z: fc.constantFrom("Z", "Z", "Z", "z", "+00:00", "")
    })
    .map(
      ({ y, mo, d, h, mi, s, f, z }) =>
        `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${f === undefined ? "" : `.${f}`}${z}`
    )
  const edited = fc
    .tuple(near, fc.nat(), fc.constantFrom(..."0123456789-T:.Z x\u0661"))
    .map(([t, at, c]) => t.slice(0, at % t.length) + c + t.slice((at % t.length) + 1))

  it("reads exactly the instants the reference reads", () => {
    fc.assert(
      fc.property(fc.oneof(near, edited, fc.string({ maxLength: 30 })), (text) => {
        expect(parseUtcTimestamp(text)).toBe(referenceTimestamp(text))
      }),
      { numRuns: 20_000, seed: 3 }
    )
    for (const t of ["2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T23:59:59.9Z", "1900-02-29T00:00:00Z"])
      expect(parseUtcTimestamp(t), t).toBe(referenceTimestamp(t))
  })
})
