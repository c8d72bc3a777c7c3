/**
 * The pure stapled-status checks (PROTOCOL.md §13.6.1-2, `src/domain/cert/staple.ts`): a staple is
 * valid only for the certificate it names (serial, handle, issuing CA), only inside its short life,
 * only under the issuing CA's signature, and a longer life than 10 minutes is refused outright.
 */
import { generateKeyPairSync, sign, verify } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  checkStaple,
  encodeStaple,
  MAX_STAPLE_LIFETIME_MS,
  parseStaple,
  STAPLE_CLOCK_SKEW_MS,
  type StapleCheck,
  type StapleFields,
  stapleToBeSigned
} from "../../src/domain/cert/staple.js"

const ca = generateKeyPairSync("ec", { namedCurve: "P-256" })
const other = generateKeyPairSync("ec", { namedCurve: "P-256" })
const ISSUER = "ab".repeat(32)
const NOW = 1_790_000_000_000

const fields: StapleFields = {
  serial: "467017c4f35ee38f94cd7b78c2762af0",
  handle: "dave@example.org",
  issuer: ISSUER,
  thisUpdate: NOW - 1_000,
  nextUpdate: NOW + 299_000
}

const make = (f: Partial<StapleFields> = {}, key = ca.privateKey) => {
  const tbs = stapleToBeSigned({ ...fields, ...f })
  return encodeStaple(tbs, new Uint8Array(sign("sha256", tbs, { key, dsaEncoding: "ieee-p1363" })))
}

const against: StapleCheck = {
  serial: fields.serial,
  handle: "Dave@Example.org",
  issuer: ISSUER,
  verify: (tbs, sig) => verify("sha256", tbs, { key: ca.publicKey, dsaEncoding: "ieee-p1363" }, sig),
  now: NOW
}

const reason = (bytes: Uint8Array, c: Partial<StapleCheck> = {}) => {
  const v = checkStaple(bytes, { ...against, ...c })
  return v._tag === "Valid" ? "Valid" : v.reason
}

describe("stapled status", () => {
  it("round-trips its fields and accepts a genuine staple for the certificate", () => {
    const bytes = make()
    expect(parseStaple(bytes)?.fields).toEqual(fields)
    expect(checkStaple(bytes, against)).toEqual({ _tag: "Valid", fields })
    expect(bytes.length).toBeLessThan(300)
  })

  it("refuses a staple signed by any other key (forged)", () => {
    expect(reason(make({}, other.privateKey))).toBe("BadSignature")
  })

  it("refuses a staple whose signed bytes were edited", () => {
    const bytes = make()
    const edited = bytes.slice()
    // "status=good" stays, but the last digit of thisUpdate moves: the signature no longer covers it.
    const text = new TextDecoder().decode(edited.subarray(2, 2 + ((edited[0]! << 8) | edited[1]!)))
    const at = 2 + text.indexOf("\nnextUpdate=") - 1
    edited[at] = edited[at] === 0x31 ? 0x32 : 0x31
    expect(reason(edited)).toBe("BadSignature")
    const sigFlip = bytes.slice()
    sigFlip[sigFlip.length - 1]! ^= 1
    expect(reason(sigFlip)).toBe("BadSignature")
  })

  it("refuses a staple for another serial, another handle or another issuing CA", () => {
    expect(reason(make({ serial: "467017c4f35ee38f94cd7b78c2762af1" }))).toBe("OtherCertificate")
    expect(reason(make({ handle: "mallory@example.org" }))).toBe("OtherCertificate")
    expect(reason(make({ issuer: "cd".repeat(32) }))).toBe("OtherCertificate")
  })

  it("refuses an expired staple, and one from beyond the clock skew", () => {
    expect(reason(make(), { now: fields.nextUpdate })).toBe("Expired")
    expect(reason(make(), { now: fields.nextUpdate - 1 })).toBe("Valid")
    expect(reason(make(), { now: fields.thisUpdate - STAPLE_CLOCK_SKEW_MS })).toBe("Valid")
    expect(reason(make(), { now: fields.thisUpdate - STAPLE_CLOCK_SKEW_MS - 1 })).toBe("NotYetValid")
  })

  it("refuses a lifetime above 10 minutes or an empty one, even when signed", () => {
    expect(reason(make({ nextUpdate: fields.thisUpdate + MAX_STAPLE_LIFETIME_MS }))).toBe("Valid")
    expect(reason(make({ nextUpdate: fields.thisUpdate + MAX_STAPLE_LIFETIME_MS + 1 }))).toBe("TooLong")
    expect(reason(make({ nextUpdate: fields.thisUpdate }))).toBe("TooLong")
  })

  it("refuses what is not a staple: empty, truncated, padded, garbage, a serial with a leading zero", () => {
    const bytes = make()
    expect(reason(new Uint8Array(0))).toBe("Malformed")
    expect(reason(bytes.subarray(0, bytes.length - 1))).toBe("Malformed")
    expect(reason(new Uint8Array([...bytes, 0]))).toBe("Malformed")
    expect(reason(new Uint8Array(200).fill(0x41))).toBe("Malformed")
    expect(reason(new Uint8Array(2000))).toBe("Malformed")
    expect(reason(make({ serial: "0467017c" }), { serial: "0467017c" })).toBe("Malformed")
    const notUtf8 = bytes.slice()
    notUtf8[10] = 0xff
    expect(reason(notUtf8)).toBe("Malformed")
  })
})
