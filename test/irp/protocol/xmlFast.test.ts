/**
 * The hand-written readers (the `fast` halves of `src/domain/irp/decode/*`) against the Schema path they stand in for: on
 * generated messages and on documents edited in every way the readers check (attributes added, dropped or
 * given odd values, children renamed, moved to another namespace, reordered, multiplied, text where
 * elements belong), both codecs give exactly what the Schema path gives: the same value, field for field
 * in the same order, or the same error. And the fast path does decide every valid message of its kinds,
 * so the client and the server really take it.
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { IRP_NAMESPACE } from "../../../src/domain/irp/messages.js"
import {
  encodeIrp,
  irpFromElement,
  requestFromElement,
  requestFromElementBySchema,
  serverMessageFromElement,
  serverMessageFromElementBySchema
} from "../../../src/domain/irp/xml.js"
import { fastRequest, fastServerMessage } from "../../../src/domain/irp/xmlRead.js"
import type { DecodeError } from "../../../src/domain/xml/DecodeError.js"
import type { XmlAttribute, XmlElement } from "../../../src/domain/xml/model.js"
import { parseXml } from "../../../src/domain/xml/parse.js"
import { irpRequest, irpServerMessage } from "./arbitraries.js"
import { samples } from "./samples.js"

const FAST_KINDS = new Set([
  "irp.Ok",
  "irp.LookupResult",
  "irp.Registered",
  "irp.StatusResult",
  "irp.Changed",
  "irp.Error",
  "irp.Ping",
  "irp.Lookup",
  "irp.Register",
  "irp.Status"
])

/** A value's exact shape: key order, absent versus undefined, array classes, bigint. */
const shape = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return { [v.constructor.name]: Array.from(v) }
  if (typeof v === "bigint") return { bigint: v.toString() }
  if (v === undefined) return { undefined: true }
  if (Array.isArray(v)) return v.map(shape)
  if (typeof v === "object" && v !== null) return Object.entries(v).map(([k, x]) => [k, shape(x)])
  return v
}

const outcome = (r: Either.Either<unknown, { reason: string; message: string }>) =>
  Either.isRight(r) ? { value: shape(r.right) } : { reason: r.left.reason, message: r.left.message }

type Decoder = (el: XmlElement) => Either.Either<unknown, DecodeError>

/** Both paths of both codecs agree on `el`; returns whether a fast path decided it. */
const agree = (el: XmlElement): boolean => {
  const inIrp = el.namespace === IRP_NAMESPACE
  let decided = false
  const paths: ReadonlyArray<readonly [Decoder, Decoder, unknown]> = [
    [serverMessageFromElement, serverMessageFromElementBySchema, inIrp ? fastServerMessage(el) : undefined],
    [requestFromElement, requestFromElementBySchema, inIrp ? fastRequest(el) : undefined]
  ]
  for (const [fastPath, bySchema, fast] of paths) {
    const reference = bySchema(el)
    expect(outcome(fastPath(el))).toEqual(outcome(reference))
    if (fast === undefined) continue
    expect(Either.isRight(reference)).toBe(true)
    expect(shape(fast)).toEqual(shape(Either.getOrThrow(reference)))
    // Any IRP message reader takes the same fast path.
    expect(shape(Either.getOrThrow(irpFromElement(el)))).toEqual(shape(fast))
    decided = true
  }
  return decided
}

const elementOf = (message: Parameters<typeof encodeIrp>[0]) => Either.getOrThrow(parseXml(encodeIrp(message)))

/** Odd values for any attribute: empty, blank, signs, leading zeros, overflow, unreal times, foreign text. */
const oddValue = fc.constantFrom(
  "",
  " ",
  "0",
  "00",
  "01",
  "-1",
  "+1",
  "1.5",
  "65536",
  "99999999",
  "100000000",
  "9223372036854775807",
  "9223372036854775808",
  "true",
  "True",
  "good",
  "revoked",
  "unknown",
  "superseded",
  "rate_limited",
  "2024-02-30T00:00:00Z",
  "0099-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999999999Z",
  "1969-12-31T23:59:59.999Z",
  "2026-11-26T12:00:00.Z",
  "01ARZ3NDEKTSV4RRFFQ69G5FAV",
  "01arz3ndektsv4rrffq69g5fav",
  "81ARZ3NDEKTSV4RRFFQ69G5FAV",
  "bob@example.org",
  "Bob@example.org",
  "a",
  "0a",
  "fe80::1%eth0",
  "host name",
  "d".repeat(65),
  "x".repeat(513),
  "AAAA",
  "AAA=",
  "AB==",
  "\uFFFD"
)
const attributeNames = fc.constantFrom(
  "id",
  "handle",
  "status",
  "serial",
  "revokedAt",
  "reason",
  "natSuspected",
  "device",
  "expires",
  "seq",
  "host",
  "port",
  "code",
  "message",
  "retryAfterMs",
  "token",
  "extra"
)
const childNames = fc.constantFrom("Cert", "Binding", "Address", "Observed", "Ok", "Handle")

/** One edit at the `pick`-th element of the tree (document order). */
type Edit =
  | { readonly kind: "dropAttribute"; readonly at: number }
  | { readonly kind: "setAttribute"; readonly name: string; readonly value: string }
  | { readonly kind: "renameChild"; readonly at: number; readonly name: string }
  | { readonly kind: "foreignChild"; readonly at: number }
  | { readonly kind: "dropChild"; readonly at: number }
  | { readonly kind: "duplicateChild"; readonly at: number; readonly times: number }
  | { readonly kind: "swapChildren"; readonly at: number }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "setText"; readonly text: string }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("dropAttribute" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("setAttribute" as const), name: attributeNames, value: oddValue }),
  fc.record({ kind: fc.constant("renameChild" as const), at: fc.nat(), name: childNames }),
  fc.record({ kind: fc.constant("foreignChild" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("dropChild" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicateChild" as const), at: fc.nat(), times: fc.integer({ min: 1, max: 70 }) }),
  fc.record({ kind: fc.constant("swapChildren" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("text" as const), text: fc.constantFrom(" ", "\n\t", "x", "AAAA") }),
  fc.record({ kind: fc.constant("setText" as const), text: oddValue })
)

const apply = (el: XmlElement, e: Edit): XmlElement => {
  const children = [...el.children]
  const attributes: Array<XmlAttribute> = [...el.attributes]
  const at = (n: number) => n % Math.max(1, children.length)
  switch (e.kind) {
    case "dropAttribute":
      if (attributes.length > 0) attributes.splice(e.at % attributes.length, 1)
      return { ...el, attributes }
    case "setAttribute": {
      const i = attributes.findIndex((a) => a.name === e.name)
      if (i >= 0) attributes[i] = { name: e.name, value: e.value }
      else attributes.push({ name: e.name, value: e.value })
      return { ...el, attributes }
    }
    case "renameChild":
      if (children.length === 0) return el
      children[at(e.at)] = { ...children[at(e.at)]!, name: e.name }
      return { ...el, children }
    case "foreignChild":
      if (children.length === 0) return el
      children[at(e.at)] = { ...children[at(e.at)]!, namespace: "urn:other" }
      return { ...el, children }
    case "dropChild":
      if (children.length > 0) children.splice(at(e.at), 1)
      return { ...el, children }
    case "duplicateChild":
      if (children.length === 0) return el
      children.splice(at(e.at), 0, ...Array.from({ length: e.times }, () => children[at(e.at)]!))
      return { ...el, children }
    case "swapChildren": {
      if (children.length < 2) return el
      const i = at(e.at)
      const j = (i + 1) % children.length
      ;[children[i], children[j]] = [children[j]!, children[i]!]
      return { ...el, children }
    }
    case "text":
      return { ...el, text: el.text + e.text }
    case "setText":
      return { ...el, text: e.text }
  }
}

/** Applies `e` to the element at document-order position `pick` (the root is 0). */
const editAt = (root: XmlElement, pick: number, e: Edit): XmlElement => {
  const all: Array<XmlElement> = []
  const walk = (x: XmlElement) => {
    all.push(x)
    x.children.forEach(walk)
  }
  walk(root)
  const target = all[pick % all.length]!
  const rebuild = (x: XmlElement): XmlElement =>
    x === target ? apply(x, e) : x.children.length === 0 ? x : { ...x, children: x.children.map(rebuild) }
  return rebuild(root)
}

describe("hand-written readers", () => {
  it("decide every valid generated message of their kinds, with the Schema path's exact value", () => {
    let decided = 0
    fc.assert(
      fc.property(fc.oneof(irpServerMessage, irpRequest), (message) => {
        const fast = agree(elementOf(message))
        expect(fast).toBe(FAST_KINDS.has(message._tag))
        if (fast) decided++
      }),
      { numRuns: 600, seed: 4604 }
    )
    expect(decided).toBeGreaterThan(250)
    for (const { label, message } of samples)
      if (FAST_KINDS.has(message._tag)) expect(agree(elementOf(message)), label).toBe(true)
  })

  it("agree with the Schema path on edited messages: same value or same error", () => {
    const messages = fc.oneof(irpServerMessage, irpRequest).filter((m) => FAST_KINDS.has(m._tag))
    fc.assert(
      fc.property(messages, fc.array(fc.tuple(fc.nat(), edit), { minLength: 1, maxLength: 3 }), (message, edits) => {
        let el = elementOf(message)
        for (const [pick, e] of edits) el = editAt(el, pick, e)
        agree(el)
      }),
      { numRuns: 4000, seed: 7 }
    )
  })

  it("agree on documents whose bytes were mutated", () => {
    const docs = samples.filter((s) => FAST_KINDS.has(s.message._tag)).map((s) => encodeIrp(s.message))
    fc.assert(
      fc.property(
        fc.constantFrom(...docs),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x20, max: 0x7e })), { minLength: 1, maxLength: 3 }),
        (doc, edits) => {
          const copy = doc.slice()
          for (const [at, value] of edits) copy[at % copy.length] = value
          const parsed = parseXml(copy)
          if (Either.isRight(parsed)) agree(parsed.right)
        }
      ),
      { numRuns: 3000, seed: 11 }
    )
  })
})
