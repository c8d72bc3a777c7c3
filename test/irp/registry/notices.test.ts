/**
 * The PostgreSQL change feed's notices (`changes.ts`): a transaction's changes as JSON arrays, each
 * payload under PostgreSQL's 8000-byte limit, in order, nothing lost; and the receiver's hand decoder,
 * which must accept and refuse exactly what the Schema it replaced did.
 */
import { FastCheck as fc, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Handle } from "../../../src/domain/brands.js"
import type { RegistryChange } from "../../../src/domain/irp/registry.js"
import { decodeChanges, noticePayloads } from "../../../src/layers/irp/registry/changes.js"

const change = (i: number, long = false): RegistryChange => ({
  handle: Handle.make(long ? `${"x".repeat(60)}${i}@${"d".repeat(60)}.${"e".repeat(60)}.org` : `u${i}@example.org`),
  kind: i % 5 === 0 ? "certificate" : "bindings",
  ...(i % 5 === 0 ? { revokedSerial: (1000 + i).toString(16) } : {})
})

describe("noticePayloads", () => {
  it("puts a batch of short handles in one notice", () => {
    const changes = Array.from({ length: 64 }, (_, i) => change(i))
    const payloads = noticePayloads(changes)
    expect(payloads).toHaveLength(1)
    expect(JSON.parse(payloads[0]!)).toEqual(changes)
  })

  it("splits long ones into notices under 8000 bytes, in order", () => {
    const changes = Array.from({ length: 64 }, (_, i) => change(i, true))
    const payloads = noticePayloads(changes)
    expect(payloads.length).toBeGreaterThan(1)
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000)
    expect(payloads.flatMap((p) => JSON.parse(p))).toEqual(changes)
  })

  it("sends nothing for no change", () => {
    expect(noticePayloads([])).toEqual([])
  })
})

/** The Schema `decodeChanges` replaced (issue 15), as the reference. */
const Change = Schema.Struct({
  handle: Handle,
  kind: Schema.Literal("bindings", "certificate"),
  revokedSerial: Schema.optional(Schema.String.pipe(Schema.pattern(/^[0-9a-f]{1,40}$/)))
})
const reference = (payload: string): ReadonlyArray<RegistryChange> =>
  Option.match(Schema.decodeUnknownOption(Schema.parseJson(Schema.Union(Schema.Array(Change), Change)))(payload), {
    onNone: () => [],
    onSome: (decoded) => ("handle" in decoded ? [decoded] : decoded)
  })

/** Values close to changes: good ones, and ones with one field wrong, missing, of another type or extra. */
const nearChange = fc.record(
  {
    handle: fc.oneof(
      fc.constantFrom("u1@example.org", "a.b+c@x.example.org", "U1@example.org", "@example.org", "", "x".repeat(250)),
      fc.string(),
      fc.integer(),
      fc.constant(null)
    ),
    kind: fc.oneof(fc.constantFrom("bindings", "certificate", "Bindings", ""), fc.integer(), fc.constant(null)),
    revokedSerial: fc.oneof(
      fc.constantFrom("0", "1a2b", "f".repeat(40), "f".repeat(41), "ABC", "", "12 "),
      fc.integer(),
      fc.constant(null)
    ),
    extra: fc.jsonValue()
  },
  { requiredKeys: [] }
)
const payload = fc.oneof(
  nearChange.map((c) => JSON.stringify(c)),
  fc.array(nearChange, { maxLength: 4 }).map((cs) => JSON.stringify(cs)),
  fc.array(fc.oneof(nearChange, fc.jsonValue()), { maxLength: 3 }).map((cs) => JSON.stringify(cs)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constantFrom("", "[", "ready", "null", "[]", "{}", "[[]]"),
  fc.string()
)

describe("decodeChanges", () => {
  it("decodes what noticePayloads sends", () => {
    const changes = Array.from({ length: 64 }, (_, i) => change(i, i % 2 === 0))
    expect(noticePayloads(changes).flatMap(decodeChanges)).toEqual(changes)
    expect(decodeChanges(JSON.stringify(change(5)))).toEqual([change(5)])
  })

  it("accepts and refuses exactly what the Schema it replaced did (extra keys dropped)", () => {
    fc.assert(
      fc.property(payload, (p) => {
        expect(decodeChanges(p)).toEqual(reference(p))
      }),
      { numRuns: 3000 }
    )
  })
})
