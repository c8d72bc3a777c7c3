/**
 * Property tests: whatever bytes arrive, the parser and the E2E decoder return a value or a typed error;
 * they never throw and never hang (every run below must finish inside the test timeout).
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeE2E, encodeE2E, type HelloKind } from "../../src/domain/e2e/xml.js"
import { DecodeError } from "../../src/domain/xml/DecodeError.js"
import { XmlError } from "../../src/domain/xml/model.js"
import { parseXml } from "../../src/domain/xml/parse.js"
import { writeXml } from "../../src/domain/xml/write.js"
import { e2eMessage, xmlTree } from "./arbitraries.js"
import { samples } from "./samples.js"

const utf8 = new TextEncoder()
const XML_REASONS = [
  "Malformed",
  "Encoding",
  "Doctype",
  "Entity",
  "ProcessingInstruction",
  "TooDeep",
  "TooManyAttributes",
  "TooLarge",
  "ValueTooLong",
  "DuplicateAttribute",
  "Namespace",
  "MixedContent"
]
const DECODE_REASONS = ["Xml", "UnknownElement", "Namespace", "Schema"]

/** Parser outcome is a tree or a typed XmlError. */
const checkParse = (bytes: Uint8Array): void => {
  const r = parseXml(bytes)
  if (Either.isLeft(r)) {
    expect(r.left).toBeInstanceOf(XmlError)
    expect(XML_REASONS).toContain(r.left.reason)
  } else expect(typeof r.right.name).toBe("string")
}

/** Decoder outcome is a message that re-encodes stably, or a typed DecodeError. */
const checkDecode = (bytes: Uint8Array, hello: HelloKind = "offer"): void => {
  const r = decodeE2E(bytes, hello)
  if (Either.isLeft(r)) {
    expect(r.left).toBeInstanceOf(DecodeError)
    expect(DECODE_REASONS).toContain(r.left.reason)
    if (r.left.reason === "Xml") expect(r.left.cause).toBeInstanceOf(XmlError)
  } else expect(decodeE2E(encodeE2E(r.right), hello)).toEqual(r)
}

const soup = fc
  .array(
    fc.constantFrom(
      "<",
      ">",
      "/",
      "/>",
      "</",
      "=",
      '"',
      "'",
      " ",
      "\n",
      "a",
      "p:a",
      "Ack",
      "Message",
      "Body",
      'xmlns="urn:sixchat:e2e:1"',
      'xmlns:p="urn:sixchat:e2e:1"',
      ' id="01ARZ3NDEKTSV4RRFFQ69G5FAV"',
      ' sent="2024-05-01T12:34:56Z"',
      "&",
      "&amp;",
      "&#",
      "&#x",
      "1F600",
      ";",
      "&lt;",
      "&foo;",
      "<!--",
      "-->",
      "--",
      "<?",
      "?>",
      "<?xml version='1.0'?>",
      "<!DOCTYPE",
      "<![CDATA[",
      "]]>",
      "[",
      "]",
      "\u0000",
      "\ufeff",
      "😀"
    ),
    { maxLength: 60 }
  )
  .map((parts) => utf8.encode(parts.join("")))

type Mutation =
  | { readonly op: "flip"; readonly at: number; readonly bit: number }
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: "delete"; readonly at: number; readonly length: number }
  | { readonly op: "duplicate"; readonly at: number; readonly length: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), soup)
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) })
)

const mutate = (input: Uint8Array, mutations: ReadonlyArray<Mutation>): Uint8Array => {
  let b = input
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length
    switch (m.op) {
      case "flip":
        b = b.slice()
        if (b.length > 0) b[at] = b[at]! ^ (1 << m.bit)
        break
      case "truncate":
        b = b.slice(0, at)
        break
      case "insert":
        b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)])
        break
      case "delete":
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.length)])
        break
      case "duplicate":
        b = new Uint8Array([...b.subarray(0, at + m.length), ...b.subarray(at)])
        break
    }
  }
  return b
}

const smallSamples = samples.filter((s) => encodeE2E(s.message).length < 4000)

describe("hostile input never crashes or hangs the XML layer", () => {
  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        checkParse(bytes)
        checkDecode(bytes)
      }),
      { numRuns: 2000 }
    )
  })

  it("random strings (any code point, including controls and lone surrogates)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
        checkParse(utf8.encode(s))
        checkDecode(utf8.encode(s))
      }),
      { numRuns: 1000 }
    )
  })

  it("XML-shaped token soup", () => {
    fc.assert(
      fc.property(soup, (bytes) => {
        checkParse(bytes)
        checkDecode(bytes)
      }),
      { numRuns: 2000 }
    )
  })

  it("mutations (bit flips, truncations, insertions, deletions, duplications) of valid messages", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...smallSamples),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (sample, mutations) => {
          const bytes = mutate(encodeE2E(sample.message), mutations)
          checkParse(bytes)
          checkDecode(bytes, sample.hello)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("mutations of generated messages", () => {
    fc.assert(
      fc.property(e2eMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ message, hello }, mutations) =>
        checkDecode(mutate(encodeE2E(message), mutations), hello)
      ),
      { numRuns: 1000 }
    )
  })
})

describe("round trips of generated values", () => {
  it("every generated E2E message decodes to itself", () => {
    fc.assert(
      fc.property(e2eMessage, ({ message, hello }) => {
        expect(decodeE2E(encodeE2E(message), hello)).toEqual(Either.right(message))
      }),
      { numRuns: 1000 }
    )
  })

  it("every generated XML tree parses back to itself", () => {
    fc.assert(
      fc.property(xmlTree, (tree) => {
        expect(parseXml(writeXml(tree))).toEqual(Either.right(tree))
      }),
      { numRuns: 500 }
    )
  })
})
