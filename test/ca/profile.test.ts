import { Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import * as P from "../../src/domain/pki/profile.js"
import { EnrollmentToken, enrollmentTokenDigest, formatEnrollmentToken } from "../../src/domain/pki/token.js"

describe("serial numbers", () => {
  it("serialFromEntropy keeps 16 octets, positive, with a non-zero first octet", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (random) => {
        const serial = P.serialFromEntropy(random)
        expect(serial).toHaveLength(16)
        expect(serial[0]! & 0x80).toBe(0)
        expect(serial[0]).not.toBe(0)
        expect(serial.subarray(1)).toEqual(random.subarray(1))
        expect(P.normalizeSerial(serial)).toEqual(serial)
      })
    )
    expect(P.serialFromEntropy(new Uint8Array(16))[0]).toBe(0x40)
    expect(() => P.serialFromEntropy(new Uint8Array(8))).toThrow(RangeError)
  })

  it("hex round-trips and matches openssl's spelling without leading zeros", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (random) => {
        const serial = P.serialFromEntropy(random)
        expect(P.serialFromHex(P.serialHex(serial))).toEqual(serial)
      })
    )
    expect(P.serialHex(Uint8Array.of(0x00, 0x9f, 0x01))).toBe("9f01")
    expect(P.serialFromHex("9F:01")).toEqual(Uint8Array.of(0x00, 0x9f, 0x01))
    expect(P.serialFromHex("0x0102")).toEqual(Uint8Array.of(0x01, 0x02))
    expect(P.serialFromHex("zz")).toBeUndefined()
    expect(P.serialFromHex("0")).toBeUndefined()
    expect(P.serialFromHex("1".repeat(41))).toBeUndefined()
  })

  it("normalizeSerial refuses zero, negative and over-long serials and strips redundant zero octets", () => {
    expect(P.normalizeSerial(Uint8Array.of(0))).toBeUndefined()
    expect(P.normalizeSerial(Uint8Array.of(0x80))).toBeUndefined()
    expect(P.normalizeSerial(new Uint8Array(21).fill(1))).toBeUndefined()
    expect(P.normalizeSerial(Uint8Array.of(0, 0, 0x05))).toEqual(Uint8Array.of(0x05))
    expect(P.normalizeSerial(Uint8Array.of(0, 0x85))).toEqual(Uint8Array.of(0, 0x85))
  })
})

describe("profile helpers", () => {
  it("keyUsageBits is the minimal DER named-bit list", () => {
    expect(P.keyUsageBits(["digitalSignature"])).toEqual({ bytes: Uint8Array.of(0x80), unusedBits: 7 })
    expect(P.keyUsageBits(["keyCertSign", "cRLSign"])).toEqual({ bytes: Uint8Array.of(0x06), unusedBits: 1 })
  })

  it("validityWindow backdates, truncates to seconds and clamps to the issuer", () => {
    const now = new Date("2030-01-01T00:00:00.750Z")
    expect(P.validityWindow({ now, days: 1 })).toEqual({
      notBefore: new Date("2029-12-31T23:55:00Z"),
      notAfter: new Date("2030-01-02T00:00:00Z")
    })
    const cap = new Date("2030-01-01T12:00:00.500Z")
    expect(P.validityWindow({ now, days: 365, cap })?.notAfter).toEqual(new Date("2030-01-01T12:00:00Z"))
    expect(P.validityWindow({ now, days: 1, cap: new Date("2029-01-01T00:00:00Z") })).toBeUndefined()
    expect(P.usesUtcTime(new Date("2049-12-31T23:59:59Z"))).toBe(true)
    expect(P.usesUtcTime(new Date("2050-01-01T00:00:00Z"))).toBe(false)
  })

  it("names: domains, server names and what the root permits", () => {
    expect(P.isDomainName("example.org")).toBe(true)
    expect(P.isDomainName("Example.org")).toBe(false)
    expect(P.isDomainName("localhost")).toBe(false)
    expect(P.isDomainName("1.2.3.4")).toBe(false)
    expect(P.defaultServerNames("example.org")).toEqual(["irp.example.org", "example.org"])
    expect(P.permittedNames("example.org", ["irp.example.org", "irp.hosting.net"])).toEqual({
      rfc822: ["example.org"],
      dns: ["example.org", "irp.hosting.net"]
    })
    expect(P.handleInDomain("a@example.org" as Handle, "example.org")).toBe(true)
    expect(P.handleInDomain("a@sub.example.org" as Handle, "example.org")).toBe(false)
  })
})

describe("enrolment tokens", () => {
  it("format 256 random bits as a copy-paste-safe string; storage keeps a digest", () => {
    const token = formatEnrollmentToken(new Uint8Array(32).fill(7))
    expect(Schema.is(EnrollmentToken)(token)).toBe(true)
    expect(token).toMatch(/^sxe1-[A-Za-z0-9_-]{43}$/)
    expect(enrollmentTokenDigest(token)).toMatch(/^[0-9a-f]{64}$/)
    expect(enrollmentTokenDigest(formatEnrollmentToken(new Uint8Array(32).fill(8)))).not.toBe(
      enrollmentTokenDigest(token)
    )
    expect(Schema.is(EnrollmentToken)("sxe1-short")).toBe(false)
  })
})
