/**
 * The PostgreSQL change feed's notices (`changes.ts`): a transaction's changes as JSON arrays, each
 * payload under PostgreSQL's 8000-byte limit, in order, nothing lost.
 */
import { describe, expect, it } from "vitest"
import { Handle } from "../../../src/domain/brands.js"
import type { RegistryChange } from "../../../src/domain/irp/registry.js"
import { noticePayloads } from "../../../src/layers/irp/registry/changes.js"

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
