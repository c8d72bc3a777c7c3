/**
 * The IRP XML mapping: round trips, the strictness of the decoder, the two codecs' behaviour on bad input,
 * and a fuzz property (whatever arrives, decoding returns a value or a typed error; it never throws).
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MAX_CONTENT } from "../../../src/domain/channel/record.js"
import { IRP_NAMESPACE, type IrpServerMessage } from "../../../src/domain/irp/messages.js"
import {
  decodeIrp,
  encodeIrp,
  irpClientCodec,
  irpServerCodec,
  irpToElement,
  parseTimestamp
} from "../../../src/domain/irp/xml.js"
import { DecodeError } from "../../../src/domain/xml/DecodeError.js"
import type { XmlElement } from "../../../src/domain/xml/model.js"
import { parseXml } from "../../../src/domain/xml/parse.js"
import { writeXml } from "../../../src/domain/xml/write.js"
import { irpMessage, xmlTree } from "./arbitraries.js"
import { bytes, samples, ULID } from "./samples.js"

const utf8 = new TextEncoder()
const NS = 'xmlns="urn:sixchat:irp:1"'
const root = (xml: string) => Either.getOrThrow(parseXml(utf8.encode(xml)))
const b64 = (n: number) => Buffer.from(bytes(n, 3)).toString("base64")

describe("IRP XML mapping", () => {
  it("round-trips every sample", () => {
    for (const { label, message } of samples) {
      expect(Either.getOrThrow(decodeIrp(encodeIrp(message))), label).toEqual(message)
    }
  })

  it("round-trips generated messages, and encoding is stable", () => {
    fc.assert(
      fc.property(irpMessage, (message) => {
        const bytes = encodeIrp(message)
        const back = Either.getOrThrow(decodeIrp(bytes))
        expect(back).toEqual(message)
        expect(encodeIrp(back)).toEqual(bytes)
      }),
      { numRuns: 400, seed: 4604 }
    )
  })

  it("writes Ping, Ok, Lookup, LookupResult, Register and Registered directly, byte for byte as the element tree would be written", () => {
    fc.assert(
      fc.property(irpMessage, (message) => {
        expect(encodeIrp(message)).toEqual(writeXml(irpToElement(message)))
      }),
      { numRuns: 600, seed: 11 }
    )
    for (const message of [
      { _tag: "irp.Ping", id: ULID },
      { _tag: "irp.Ok", id: ULID },
      { _tag: "irp.Lookup", id: ULID, handle: "a.b+c@sub.example.org" },
      {
        _tag: "irp.Register",
        id: ULID,
        deviceId: "laptop-1",
        addresses: [
          { host: "192.0.2.1", port: 4605 },
          { host: "2001:db8::1", port: 1 }
        ],
        ttlSeconds: 300,
        seq: 1_780_000_000_000_000n
      },
      { _tag: "irp.Register", id: ULID, deviceId: "d", addresses: [], ttlSeconds: 0, seq: 0n },
      { _tag: "irp.Registered", id: ULID, natSuspected: false, observed: undefined, bindings: [] },
      {
        _tag: "irp.Registered",
        id: ULID,
        natSuspected: true,
        observed: { host: "2001:db8::1", port: 4605 },
        bindings: [{ deviceId: "phone", addresses: [], expiresAt: Date.UTC(2026, 10, 26, 12), seq: 3n }]
      }
    ] as const)
      expect(encodeIrp(message as never)).toEqual(writeXml(irpToElement(message as never)))
  })

  it("writes the documented shapes", () => {
    const doc = new TextDecoder().decode(
      encodeIrp({
        _tag: "irp.Deregister",
        id: ULID as never,
        deviceId: null
      })
    )
    expect(doc).toBe(`<Deregister ${NS} id="${ULID}"><All/></Deregister>`)
    const binding = new TextDecoder().decode(
      encodeIrp({
        _tag: "irp.Changed",
        handle: "bob@example.org" as never,
        status: "good",
        bindings: [
          {
            deviceId: "phone" as never,
            addresses: [{ host: "::1" as never, port: 4605 as never }],
            expiresAt: Date.UTC(2026, 10, 26, 12),
            seq: 7n as never
          }
        ]
      })
    )
    expect(binding).toBe(
      `<Changed ${NS} handle="bob@example.org" status="good"><Binding device="phone" expires="2026-11-26T12:00:00.000Z" seq="7"><Address host="::1" port="4605"/></Binding></Changed>`
    )
    expect(new TextDecoder().decode(encodeIrp({ _tag: "irp.DomainInfo", id: ULID as never }))).toBe(
      `<DomainInfo ${NS} id="${ULID}"/>`
    )
    const info = encodeIrp({
      _tag: "irp.DomainInfoResult",
      id: ULID as never,
      domain: "example.org",
      policy: "allow",
      root: new Uint8Array([1, 2, 3])
    })
    expect(new TextDecoder().decode(info)).toBe(
      `<DomainInfoResult ${NS} id="${ULID}" domain="example.org" policy="allow"><Cert>AQID</Cert></DomainInfoResult>`
    )
  })

  it("reads only real RFC 3339 UTC instants", () => {
    expect(parseTimestamp("2026-11-26T12:00:00Z")).toBe(Date.UTC(2026, 10, 26, 12))
    expect(parseTimestamp("2026-11-26T12:00:00.123456789Z")).toBe(Date.UTC(2026, 10, 26, 12, 0, 0, 123))
    expect(parseTimestamp("2026-11-26T12:00:00.5Z")).toBe(Date.UTC(2026, 10, 26, 12, 0, 0, 500))
    for (const bad of [
      "2024-02-30T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-11-26T24:00:00Z",
      "2026-11-26T12:00:60Z",
      "2026-11-26T12:00:00+00:00",
      "2026-11-26 12:00:00Z",
      "2026-11-26T12:00:00.Z"
    ])
      expect(parseTimestamp(bad), bad).toBeUndefined()
  })

  it("refuses what the XSD refuses, with a typed error", () => {
    const bad = [
      `<Lookup ${NS} id="${ULID}" handle="Bob@example.org"/>`,
      `<Lookup ${NS} id="${ULID}" handle="bob@example.org" extra="1"/>`,
      `<Lookup ${NS} id="${ULID}" handle="bob@example.org"> </Lookup>`,
      `<Register ${NS} id="${ULID}" device="d" ttl="030" seq="1"><Address host="::1" port="1"/></Register>`,
      `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"/>`,
      `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"><Address host="::1" port="0"/></Register>`,
      `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="9223372036854775808"><Address host="::1" port="1"/></Register>`,
      `<Register ${NS} id="${ULID}" device="d d" ttl="30" seq="1"><Address host="::1" port="1"/></Register>`,
      `<Deregister ${NS} id="${ULID}"><Device>a</Device><All/></Deregister>`,
      `<Deregister ${NS} id="${ULID}"/>`,
      `<Enroll ${NS} id="${ULID}" handle="a@b" token="t"><Csr>${b64(10)}\n</Csr></Enroll>`,
      `<Enroll ${NS} id="${ULID}" handle="a@b" token="t"><Csr></Csr></Enroll>`,
      `<Revoke ${NS} id="${ULID}" serial="0a" reason="unspecified"/>`,
      `<Revoke ${NS} id="${ULID}" serial="a" reason="certificateHold"/>`,
      `<Watch ${NS} id="${ULID}"/>`,
      `<StatusResult ${NS} id="${ULID}" serial="a" status="revoked"/>`,
      `<StatusResult ${NS} id="${ULID}" serial="a" status="good" reason="superseded"/>`,
      `<CrlResult ${NS} id="${ULID}" part="2" parts="1">${b64(3)}</CrlResult>`,
      `<Registered ${NS} id="${ULID}" natSuspected="1"/>`,
      `<Issued ${NS} id="${ULID}" serial="a" notAfter="2024-02-30T00:00:00Z"><Cert>${b64(3)}</Cert></Issued>`,
      `<Error ${NS} code="nope" message=""/>`,
      `<Ping ${NS} id="${ULID.toLowerCase()}"/>`,
      `<DomainInfo ${NS} id="${ULID}"><Cert>${b64(3)}</Cert></DomainInfo>`,
      `<DomainInfoResult ${NS} id="${ULID}" domain="b.123" policy="open"><Cert>${b64(3)}</Cert></DomainInfoResult>`,
      `<DomainInfoResult ${NS} id="${ULID}" domain="b.org" policy="open"><Cert></Cert></DomainInfoResult>`,
      `<DomainInfoResult ${NS} id="${ULID}" domain="b.org" policy="open" extra="1"><Cert>${b64(3)}</Cert></DomainInfoResult>`,
      `<Ok xmlns="urn:sixchat:e2e:1" id="${ULID}"/>`,
      `<Csr ${NS}>${b64(3)}</Csr>`
    ]
    for (const xml of bad) {
      const r = decodeIrp(utf8.encode(xml))
      expect(Either.isLeft(r), xml).toBe(true)
      if (Either.isLeft(r)) expect(r.left).toBeInstanceOf(DecodeError)
    }
  })

  it("server codec: an invalid request becomes InvalidRequest, keeping its id when readable", () => {
    const withId = irpServerCodec.decode(root(`<Lookup ${NS} id="${ULID}" handle="not a handle"/>`))
    expect(withId).toEqual(
      Either.right(expect.objectContaining({ _tag: "irp.InvalidRequest", id: ULID, element: "Lookup" }))
    )
    const unknown = irpServerCodec.decode(root(`<Frobnicate ${NS} id="${ULID}"/>`))
    expect(Either.getOrThrow(unknown)).toMatchObject({ _tag: "irp.InvalidRequest", id: ULID })
    const badId = irpServerCodec.decode(root(`<Crl ${NS} id="x"/>`))
    expect(Either.getOrThrow(badId)).toMatchObject({ _tag: "irp.InvalidRequest", id: undefined })
    const foreign = irpServerCodec.decode(root(`<Crl xmlns="urn:other" id="${ULID}"/>`))
    // PROTOCOL.md §17.2.4: a valid id is echoed whatever the namespace (issue 16).
    expect(Either.getOrThrow(foreign)).toMatchObject({ _tag: "irp.InvalidRequest", id: ULID })
    // An answer sent to the server is not a request either.
    const answer = irpServerCodec.decode(root(`<Ok ${NS} id="${ULID}"/>`))
    expect(Either.getOrThrow(answer)).toMatchObject({ _tag: "irp.InvalidRequest", id: ULID })
    expect(irpServerCodec.decode(root(`<Crl ${NS} id="${ULID}"/>`))).toEqual(
      Either.right({ _tag: "irp.Crl", id: ULID })
    )
  })

  it("client codec: refuses requests and anything not an answer", () => {
    expect(Either.isLeft(irpClientCodec.decode(root(`<Crl ${NS} id="${ULID}"/>`)))).toBe(true)
    expect(Either.isRight(irpClientCodec.decode(root(`<Ok ${NS} id="${ULID}"/>`)))).toBe(true)
  })

  it("server codec: an answer too large for one record becomes an internal error for its id", () => {
    const huge: IrpServerMessage = {
      _tag: "irp.LookupResult",
      id: ULID as never,
      handle: "bob@example.org" as never,
      status: "good",
      chain: [1, 2, 3, 4, 5].map((i) => bytes(8192, i)),
      bindings: Array.from({ length: 64 }, (_, i) => ({
        deviceId: `device-${i}` as never,
        addresses: Array.from({ length: 8 }, () => ({ host: "h".repeat(200) as never, port: 1 as never })) as never,
        expiresAt: 0,
        seq: 0n as never
      }))
    }
    expect(encodeIrp(huge).length).toBeGreaterThan(MAX_CONTENT)
    const sent = irpServerCodec.encode(huge)
    expect(sent.length).toBeLessThanOrEqual(MAX_CONTENT)
    expect(Either.getOrThrow(decodeIrp(sent))).toMatchObject({ _tag: "irp.Error", id: ULID, code: "internal" })
  })

  it("fuzz: arbitrary trees, mutated documents and random bytes never make a decoder throw", () => {
    const reasons = ["Xml", "UnknownElement", "Namespace", "Schema"]
    const check = (bytes: Uint8Array) => {
      const r = decodeIrp(bytes)
      if (Either.isLeft(r)) expect(reasons).toContain(r.left.reason)
      const parsed = parseXml(bytes)
      if (Either.isRight(parsed)) {
        expect(Either.isRight(irpServerCodec.decode(parsed.right))).toBe(true)
        irpClientCodec.decode(parsed.right)
      }
    }
    const docs = samples.map((s) => encodeIrp(s.message))
    const mutated = fc
      .tuple(fc.constantFrom(...docs), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
      .map(([doc, edits]) => {
        const copy = doc.slice()
        for (const [at, value] of edits) copy[at % copy.length] = value
        return copy
      })
    const renamed = fc
      .tuple(
        fc.constantFrom(...samples.map((s) => new TextDecoder().decode(encodeIrp(s.message)))),
        fc.constantFrom(
          "Enroll",
          "Register",
          "Binding",
          "Address",
          "Cert",
          "Handle",
          "Error",
          "Changed",
          "All",
          "Device"
        )
      )
      .map(([doc, name]) => utf8.encode(doc.replace(/^<[A-Za-z]+/, `<${name}`).replace(/<\/[A-Za-z]+>$/, `</${name}>`)))
    // Random trees moved into the IRP namespace, named like IRP elements half of the time.
    const irpNames = fc.constantFrom("Enroll", "Register", "Watch", "Binding", "Address", "Cert", "Csr", "Error")
    const toIrp = (t: XmlElement, name: string | undefined): XmlElement => ({
      ...t,
      name: name ?? t.name,
      namespace: IRP_NAMESPACE,
      children: t.children.map((c) => toIrp(c, undefined))
    })
    const trees = fc
      .tuple(xmlTree, fc.option(irpNames, { nil: undefined }))
      .map(([t, name]) => writeXml(toIrp(t, name)))
    fc.assert(fc.property(fc.oneof(mutated, renamed, trees, fc.uint8Array({ maxLength: 200 })), check), {
      numRuns: 1500,
      seed: 17
    })
  })
})
