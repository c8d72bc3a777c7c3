/**
 * The hot E2E messages' fast readers and direct writers (`src/domain/e2e/fast.ts`) against the paths they
 * stand in for. Readers: on generated messages and on elements edited in every way the readers check
 * (attributes added, dropped, duplicated or given odd values, children renamed, moved to another
 * namespace, multiplied, text where elements belong), `e2eFromElement` gives exactly what the Schema path
 * gives: the same value, field for field in the same order, or the same error; and the fast reader does
 * decide every valid message of its kinds. Writers: the same bytes as the element tree serialised.
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fastDocument, fastReaders } from "../../src/domain/e2e/fast.js"
import { fastHello } from "../../src/domain/e2e/fastHandshake.js"
import { E2E_NAMESPACE, type E2EMessage } from "../../src/domain/e2e/messages.js"
import { e2eFromElement, e2eFromElementBySchema, e2eToElement, encodeE2E } from "../../src/domain/e2e/xml.js"
import type { XmlAttribute, XmlElement } from "../../src/domain/xml/model.js"
import { parseXml } from "../../src/domain/xml/parse.js"
import { serialiseXml, writeXml } from "../../src/domain/xml/write.js"
import { e2eMessage, xmlText } from "./arbitraries.js"
import { samples } from "./samples.js"

const FAST_KINDS = new Set([
  "e2e.Message",
  "e2e.Ack",
  "e2e.Read",
  "e2e.Typing",
  "e2e.Ping",
  "e2e.Pong",
  "e2e.Certificate",
  "e2e.CertificateVerify",
  "e2e.Finished",
  "e2e.Close"
])
const HELLO_KINDS = new Set(["e2e.HelloOffer", "e2e.HelloChoice"])
/** Messages the direct writers write (all the readers' kinds but `<Typing>`, and both `<Hello>`s). */
const WRITER_KINDS = new Set([...FAST_KINDS, ...HELLO_KINDS].filter((k) => k !== "e2e.Typing"))

/** A value's exact shape: key order, absent versus undefined, byte arrays, bigint. */
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

/** Both paths agree on `el` (a `<Hello>` read as `hello`); returns whether the fast reader decided it. */
const agree = (el: XmlElement, hello: "offer" | "choice" = "offer"): boolean => {
  const reference = e2eFromElementBySchema(el, hello)
  expect(outcome(e2eFromElement(el, hello))).toEqual(outcome(reference))
  // The readers are only asked about roots in the E2E namespace (`e2eFromElement` checks it first).
  const fast =
    el.namespace !== E2E_NAMESPACE
      ? undefined
      : el.name === "Hello"
        ? fastHello(el, hello)
        : Object.hasOwn(fastReaders, el.name)
          ? fastReaders[el.name]!(el)
          : undefined
  if (fast === undefined) return false
  expect(Either.isRight(reference)).toBe(true)
  expect(shape(fast)).toEqual(shape(Either.getOrThrow(reference)))
  return true
}

const elementOf = (m: E2EMessage) => Either.getOrThrow(parseXml(encodeE2E(m)))

const oddValue = fc.constantFrom(
  "",
  " ",
  "x",
  "01ARZ3NDEKTSV4RRFFQ69G5FAV",
  "01arz3ndektsv4rrffq69g5fav",
  "81ARZ3NDEKTSV4RRFFQ69G5FAV",
  "01890a5d-ac96-774b-bcce-b302099a8057",
  "01890A5D-AC96-774B-BCCE-B302099A8057",
  "2026-11-26T12:00:00Z",
  "2026-11-26T12:00:00.Z",
  "2026-11-26 12:00:00Z",
  "active",
  "paused",
  "Active",
  "n-1.2_3",
  "bad nonce",
  "t".repeat(64),
  "t".repeat(65),
  "\uFFFE",
  "\u0001",
  "AAAA",
  "AAA=",
  "AAB=",
  "A===",
  "AAAA\n",
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
  "public",
  "Public",
  "x25519",
  "1",
  "duplicate"
)
const attributeNames = fc.constantFrom("id", "sent", "state", "nonce", "extra", "random", "group", "alg", "reason")
const childNames = fc.constantFrom(
  "Body",
  "Message",
  "Other",
  "Version",
  "KeyShare",
  "Suite",
  "SigAlg",
  "Trust",
  "Cert",
  "Status"
)

type Edit =
  | { readonly kind: "dropAttribute"; readonly at: number }
  | { readonly kind: "setAttribute"; readonly name: string; readonly value: string }
  | { readonly kind: "pushAttribute"; readonly name: string; readonly value: string }
  | { readonly kind: "renameChild"; readonly name: string }
  | { readonly kind: "foreignChild" }
  | { readonly kind: "dropChild" }
  | { readonly kind: "duplicateChild"; readonly times: number }
  | { readonly kind: "addChild" }
  | { readonly kind: "copyChild"; readonly from: number; readonly to: number }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "setText"; readonly text: string }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("dropAttribute" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("setAttribute" as const), name: attributeNames, value: oddValue }),
  fc.record({ kind: fc.constant("pushAttribute" as const), name: attributeNames, value: oddValue }),
  fc.record({ kind: fc.constant("renameChild" as const), name: childNames }),
  fc.record({ kind: fc.constant("foreignChild" as const) }),
  fc.record({ kind: fc.constant("dropChild" as const) }),
  fc.record({ kind: fc.constant("duplicateChild" as const), times: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("addChild" as const) }),
  fc.record({ kind: fc.constant("copyChild" as const), from: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant("text" as const), text: fc.constantFrom(" ", "\n\t", "x") }),
  fc.record({ kind: fc.constant("setText" as const), text: fc.oneof(oddValue, xmlText(8)) })
)

/** Applies one edit to the root (`deep`: to its first child, when it has one). */
const apply = (el: XmlElement, e: Edit): XmlElement => {
  const children = [...el.children]
  const attributes: Array<XmlAttribute> = [...el.attributes]
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
    case "pushAttribute":
      // A repeated name, as no parsed document has: the readers must still agree.
      return { ...el, attributes: [...attributes, { name: e.name, value: e.value }] }
    case "renameChild":
      if (children.length === 0) return el
      children[0] = { ...children[0]!, name: e.name }
      return { ...el, children }
    case "foreignChild":
      if (children.length === 0) return el
      children[0] = { ...children[0]!, namespace: "urn:other" }
      return { ...el, children }
    case "dropChild":
      return { ...el, children: children.slice(1) }
    case "duplicateChild":
      if (children.length === 0) return el
      return { ...el, children: [...children, ...Array.from({ length: e.times }, () => children[0]!)] }
    case "copyChild":
      // A child copied to another place: out of order, or one more of a kind (the sequence rules).
      if (children.length === 0) return el
      children.splice(e.to % (children.length + 1), 0, children[e.from % children.length]!)
      return { ...el, children }
    case "addChild":
      return { ...el, children: [...children, { ...el, attributes: [], children: [], text: "" }] }
    case "text":
      return { ...el, text: el.text + e.text }
    case "setText":
      return { ...el, text: e.text }
  }
}

const editTree = (root: XmlElement, deep: boolean, e: Edit): XmlElement =>
  deep && root.children.length > 0
    ? { ...root, children: [apply(root.children[0]!, e), ...root.children.slice(1)] }
    : apply(root, e)

const hot = e2eMessage.filter(({ message }) => FAST_KINDS.has(message._tag) || HELLO_KINDS.has(message._tag))

describe("E2E fast readers", () => {
  it("decide every valid generated message of their kinds, with the Schema path's exact value", () => {
    fc.assert(
      fc.property(e2eMessage, ({ message, hello }) => {
        expect(agree(elementOf(message), hello)).toBe(FAST_KINDS.has(message._tag) || HELLO_KINDS.has(message._tag))
      }),
      { numRuns: 1500, seed: 15 }
    )
    for (const { label, message } of samples) {
      if (FAST_KINDS.has(message._tag)) expect(agree(elementOf(message)), label).toBe(true)
      if (HELLO_KINDS.has(message._tag))
        expect(agree(elementOf(message), message._tag === "e2e.HelloChoice" ? "choice" : "offer"), label).toBe(true)
    }
  })

  it("agree with the Schema path on edited elements: same value or same error", () => {
    fc.assert(
      fc.property(
        hot,
        fc.array(fc.tuple(fc.boolean(), edit), { minLength: 1, maxLength: 3 }),
        fc.constantFrom("offer" as const, "choice" as const),
        ({ message, hello }, edits, other) => {
          let el = elementOf(message)
          for (const [deep, e] of edits) el = editTree(el, deep, e)
          agree(el, hello)
          // A <Hello> read as the other kind must be refused alike.
          if (el.name === "Hello") agree(el, other)
        }
      ),
      { numRuns: 8000, seed: 1515 }
    )
  })

  it("agree on documents whose bytes were mutated", () => {
    const docs = samples
      .filter((s) => FAST_KINDS.has(s.message._tag) || HELLO_KINDS.has(s.message._tag))
      .map((s) => encodeE2E(s.message))
    fc.assert(
      fc.property(
        fc.constantFrom(...docs),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x20, max: 0x7e })), { minLength: 1, maxLength: 3 }),
        (doc, edits) => {
          const copy = doc.slice()
          for (const [at, value] of edits) copy[at % copy.length] = value
          const parsed = parseXml(copy)
          if (Either.isRight(parsed)) {
            agree(parsed.right, "offer")
            if (parsed.right.name === "Hello") agree(parsed.right, "choice")
          }
        }
      ),
      { numRuns: 3000, seed: 4 }
    )
  })
})

describe("E2E direct writers", () => {
  it("write the bytes the element tree serialises to, for every message (the others go through the tree)", () => {
    fc.assert(
      fc.property(e2eMessage, ({ message }) => {
        expect(encodeE2E(message)).toEqual(writeXml(e2eToElement(message)))
        const direct = fastDocument(message)
        expect(direct !== undefined).toBe(WRITER_KINDS.has(message._tag))
        if (direct !== undefined) expect(direct).toBe(serialiseXml(e2eToElement(message)))
      }),
      { numRuns: 3000, seed: 16 }
    )
    for (const { message } of samples) expect(encodeE2E(message)).toEqual(writeXml(e2eToElement(message)))
  })

  it("an empty body and text that needs escaping", () => {
    const base = { _tag: "e2e.Message", id: "01ARZ3NDEKTSV4RRFFQ69G5FAV", sent: "2026-11-26T12:00:00Z" } as const
    for (const body of ["", "a & b < c > d\r\n\"'", "\t"]) {
      const m = { ...base, body } as E2EMessage
      expect(fastDocument(m)).toBe(serialiseXml(e2eToElement(m)))
    }
    // A character no schema admits is a programming error in both writers alike.
    const bad = { ...base, body: "\u0001" } as E2EMessage
    expect(() => encodeE2E(bad)).toThrow(/cannot carry/)
    expect(() => writeXml(e2eToElement(bad))).toThrow(/cannot carry/)
  })
})
