/** The registry's pure parts: lease bounds, the NAT flag, and the brands' limits. */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { makeAddress } from "../../../src/domain/brands.js"
import { SerialHex } from "../../../src/domain/irp/certificates.js"
import {
  Addresses,
  checkLease,
  DeviceId,
  defaultLeasePolicy,
  MAX_SEQ,
  natSuspected,
  Seq
} from "../../../src/domain/irp/registry.js"

describe("checkLease", () => {
  const reason = (ttl: number) =>
    Either.match(checkLease(defaultLeasePolicy, ttl), { onLeft: (e) => e.reason, onRight: (ms) => ms })
  it("accepts the bounds and converts to milliseconds", () => {
    expect(reason(30)).toBe(30_000)
    expect(reason(3600)).toBe(3_600_000)
  })
  it("refuses too short, too long and NaN, saying the bound", () => {
    expect(reason(29)).toBe("LeaseTooShort")
    expect(reason(3601)).toBe("LeaseTooLong")
    expect(reason(Number.NaN)).toBe("LeaseTooShort")
    expect(reason(Number.POSITIVE_INFINITY)).toBe("LeaseTooLong")
    const e = checkLease(defaultLeasePolicy, 5)
    expect(Either.isLeft(e) && e.left.message).toContain("at least 30 s")
  })
})

describe("natSuspected", () => {
  const addresses = [makeAddress("192.0.2.10", 4605), makeAddress("2001:db8::5", 4605)] as const
  it("is false when the observed host is registered, whatever the source port or notation", () => {
    expect(natSuspected({ addresses, observed: makeAddress("192.0.2.10", 51234) })).toBe(false)
    expect(natSuspected({ addresses, observed: makeAddress("::ffff:192.0.2.10", 51234) })).toBe(false)
    expect(natSuspected({ addresses, observed: makeAddress("2001:DB8::5", 1) })).toBe(false)
    expect(natSuspected({ addresses, observed: undefined })).toBe(false)
  })
  it("is true when the server saw another host", () => {
    expect(natSuspected({ addresses, observed: makeAddress("203.0.113.9", 4605) })).toBe(true)
  })
})

describe("brands", () => {
  const ok = <A, I>(schema: Schema.Schema<A, I>, value: unknown) =>
    Either.isRight(Schema.decodeUnknownEither(schema)(value))
  it("DeviceId: 1-64 of [A-Za-z0-9._-]", () => {
    expect(ok(DeviceId, "phone-1.a_B")).toBe(true)
    expect(ok(DeviceId, "x".repeat(64))).toBe(true)
    expect(ok(DeviceId, "x".repeat(65))).toBe(false)
    expect(ok(DeviceId, "")).toBe(false)
    expect(ok(DeviceId, "a b")).toBe(false)
  })
  it("Seq: 0 to 2^63-1", () => {
    expect(ok(Seq, 0n)).toBe(true)
    expect(ok(Seq, MAX_SEQ)).toBe(true)
    expect(ok(Seq, MAX_SEQ + 1n)).toBe(false)
    expect(ok(Seq, -1n)).toBe(false)
  })
  it("Addresses: 1 to 8", () => {
    const a = { host: "192.0.2.1", port: 4605 }
    expect(ok(Addresses, [a])).toBe(true)
    expect(
      ok(
        Addresses,
        Array.from({ length: 8 }, () => a)
      )
    ).toBe(true)
    expect(
      ok(
        Addresses,
        Array.from({ length: 9 }, () => a)
      )
    ).toBe(false)
    expect(ok(Addresses, [])).toBe(false)
  })
  it("SerialHex: lower-case hex, no leading zeros, at most 20 octets", () => {
    expect(ok(SerialHex, "1f")).toBe(true)
    expect(ok(SerialHex, "0")).toBe(true)
    expect(ok(SerialHex, "01f")).toBe(false)
    expect(ok(SerialHex, "1F")).toBe(false)
    expect(ok(SerialHex, "f".repeat(41))).toBe(false)
  })
})
