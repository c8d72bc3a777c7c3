/**
 * Pure certificate helpers: the DER reader, name comparison and name-constraint matching.
 */
import { describe, expect, it } from "vitest"
import { children, DerError, oid, readAll, readTlv, Tag, time } from "../../src/domain/cert/der.js"
import type { GeneralName } from "../../src/domain/cert/extensions.js"
import { dnsMatches, emailMatches, ipMatches, violation } from "../../src/domain/cert/nameConstraints.js"
import { formatName, isNamePrefix, namesEqual, parseName } from "../../src/domain/cert/names.js"
import { parseCertificate } from "../../src/domain/cert/parse.js"

const bytes = (...b: Array<number>) => new Uint8Array(b)
const tlv = (tag: number, content: Uint8Array): Uint8Array => {
  if (content.length >= 0x80) throw new Error("test helper: short lengths only")
  return new Uint8Array([tag, content.length, ...content])
}
const seq = (...parts: Array<Uint8Array>) => tlv(Tag.sequence, new Uint8Array(parts.flatMap((p) => [...p])))
const set = (...parts: Array<Uint8Array>) => tlv(Tag.set, new Uint8Array(parts.flatMap((p) => [...p])))
const text = (tag: number, s: string) => tlv(tag, new TextEncoder().encode(s))
const CN = bytes(0x06, 0x03, 0x55, 0x04, 0x03)
const O = bytes(0x06, 0x03, 0x55, 0x04, 0x0a)
const nameOf = (...rdns: Array<Array<[Uint8Array, Uint8Array]>>) =>
  parseName(readAll(seq(...rdns.map((rdn) => set(...rdn.map(([t, v]) => seq(t, v))))), Tag.sequence))

describe("DER reader", () => {
  it("refuses BER-only and broken encodings", () => {
    expect(() => readTlv(bytes(0x30, 0x80, 0x00, 0x00), 0, 4)).toThrow(DerError) // indefinite length
    expect(() => readTlv(bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0, 8)).toThrow(DerError) // non-minimal length
    expect(() => readTlv(bytes(0x04, 0x82, 0x00, 0x90), 0, 4)).toThrow(DerError) // leading zero length byte
    expect(() => readTlv(bytes(0x04, 0x05, 1, 2), 0, 4)).toThrow(DerError) // truncated
    expect(() => readTlv(bytes(0x1f, 0x81, 0x00), 0, 3)).toThrow(DerError) // high tag number
    expect(() => readAll(bytes(0x05, 0x00, 0x00), Tag.null)).toThrow(DerError) // trailing byte
    expect(readAll(bytes(0x05, 0x00), Tag.null).end).toBe(2)
  })

  it("decodes OIDs and refuses non-minimal arcs", () => {
    const o = (...b: Array<number>) => oid(readAll(tlv(Tag.oid, bytes(...b)), Tag.oid))
    expect(o(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b)).toBe("1.2.840.113549.1.1.11")
    expect(o(0x55, 0x1d, 0x25, 0x00)).toBe("2.5.29.37.0")
    expect(o(0x88, 0x37)).toBe("2.999")
    expect(() => o(0x55, 0x80, 0x01)).toThrow(DerError)
    expect(() => o(0x55, 0x81)).toThrow(DerError)
  })

  it("reads UTCTime with the 1950/2049 pivot and GeneralizedTime, seconds and Z only", () => {
    const t = (tag: number, s: string) => time(readAll(text(tag, s), tag))
    expect(t(Tag.utcTime, "491231235959Z")).toBe(Date.UTC(2049, 11, 31, 23, 59, 59))
    expect(t(Tag.utcTime, "500101000000Z")).toBe(Date.UTC(1950, 0, 1))
    expect(t(Tag.generalizedTime, "20500101000000Z")).toBe(Date.UTC(2050, 0, 1))
    expect(() => t(Tag.utcTime, "4912312359Z")).toThrow(DerError)
    expect(() => t(Tag.utcTime, "491231235959+0100")).toThrow(DerError)
    expect(() => t(Tag.utcTime, "490230000000Z")).toThrow(DerError) // 30 February
    expect(() => t(Tag.generalizedTime, "491231235959Z")).toThrow(DerError)
  })

  it("walks children in order", () => {
    const s = readAll(seq(bytes(0x05, 0x00), bytes(0x01, 0x01, 0xff)), Tag.sequence)
    expect(children(s).map((c) => c.tag)).toEqual([Tag.null, Tag.boolean])
  })

  it("parseCertificate never throws on garbage", () => {
    for (const input of [bytes(), bytes(0x30), bytes(0x30, 0x00), seq(seq(), seq(), tlv(Tag.bitString, bytes(0)))])
      expect(parseCertificate(input)._tag).toBe("Malformed")
  })
})

describe("names", () => {
  it("compare across string types, case and spacing (RFC 5280 7.1)", () => {
    const a = nameOf([[O, text(Tag.printableString, "Example")]], [[CN, text(Tag.printableString, "Root  CA")]])
    const b = nameOf([[O, text(Tag.utf8String, "example")]], [[CN, text(Tag.utf8String, " root ca ")]])
    const c = nameOf([[O, text(Tag.utf8String, "Example")]], [[CN, text(Tag.utf8String, "Other")]])
    expect(namesEqual(a, b)).toBe(true)
    expect(namesEqual(a, c)).toBe(false)
    expect(isNamePrefix(nameOf([[O, text(Tag.utf8String, "EXAMPLE")]]), a)).toBe(true)
    expect(isNamePrefix(a, nameOf([[O, text(Tag.utf8String, "EXAMPLE")]]))).toBe(false)
    expect(formatName(a)).toBe("CN=Root  CA, O=Example")
  })

  it("multi-valued RDNs compare as sets", () => {
    const x = nameOf([
      [CN, text(Tag.utf8String, "a")],
      [O, text(Tag.utf8String, "b")]
    ])
    const y = nameOf([
      [O, text(Tag.utf8String, "B")],
      [CN, text(Tag.utf8String, "A")]
    ])
    expect(namesEqual(x, y)).toBe(true)
  })
})

describe("name constraints", () => {
  it("dNSName subtrees", () => {
    expect(dnsMatches("example.org", "example.org")).toBe(true)
    expect(dnsMatches("example.org", "irp.EXAMPLE.org.")).toBe(true)
    expect(dnsMatches("example.org", "badexample.org")).toBe(false)
    expect(dnsMatches(".example.org", "example.org")).toBe(false)
    expect(dnsMatches(".example.org", "a.example.org")).toBe(true)
    expect(dnsMatches("", "anything.test")).toBe(true)
  })

  it("rfc822Name subtrees: mailbox, host, subdomains", () => {
    expect(emailMatches("example.org", "alice@Example.org")).toBe(true)
    expect(emailMatches("example.org", "alice@sub.example.org")).toBe(false)
    expect(emailMatches(".example.org", "alice@sub.example.org")).toBe(true)
    expect(emailMatches("alice@example.org", "alice@example.org")).toBe(true)
    expect(emailMatches("alice@example.org", "bob@example.org")).toBe(false)
    expect(emailMatches("example.org", "no-at-sign")).toBe(false)
  })

  it("iPAddress subtrees", () => {
    expect(ipMatches(bytes(10, 0, 0, 0, 255, 0, 0, 0), bytes(10, 1, 2, 3))).toBe(true)
    expect(ipMatches(bytes(10, 0, 0, 0, 255, 0, 0, 0), bytes(11, 1, 2, 3))).toBe(false)
    expect(ipMatches(bytes(10, 0, 0, 0, 255, 0, 0, 0), new Uint8Array(16))).toBe(false)
  })

  it("permitted applies per form; excluded wins; unsupported forms fail closed", () => {
    const dns = (value: string): GeneralName => ({ type: "dns", value })
    const email = (value: string): GeneralName => ({ type: "rfc822", value })
    const uri = (value: string): GeneralName => ({ type: "uri", value })
    const nc = { permitted: [dns("example.org"), email("example.org")], excluded: [dns("bad.example.org")] }
    expect(violation(nc, [dns("a.example.org"), email("x@example.org")])).toBeUndefined()
    expect(violation(nc, [dns("a.example.com")])).toEqual(dns("a.example.com"))
    expect(violation(nc, [dns("x.bad.example.org")])).toEqual(dns("x.bad.example.org"))
    expect(violation({ permitted: [dns("example.org")], excluded: [] }, [dns("*.example.org")])).toBeUndefined()
    // A wildcard would also cover the excluded bad.example.org.
    expect(violation(nc, [dns("*.example.org")])).toBeDefined()
    expect(violation({ permitted: [], excluded: [dns("secret.example.org")] }, [dns("*.example.org")])).toBeDefined()
    // A URI is unconstrained here (no URI subtree) ...
    expect(violation(nc, [uri("https://example.org/")])).toBeUndefined()
    // ... but a URI subtree cannot be evaluated, so a certificate with a URI is refused.
    expect(violation({ permitted: [uri("example.org")], excluded: [] }, [uri("https://example.org/")])).toBeDefined()
  })
})
