/**
 * One DER copy per certificate serial (`certificateCopies.ts`): equal bytes share the kept copy (so the
 * encoder's base64 cache hits), different bytes are never replaced by the kept ones, and it is bounded.
 */
import { describe, expect, it } from "vitest"
import { encodeIrp } from "../../../src/domain/irp/xml.js"
import { makeCertificateCopies } from "../../../src/layers/irp/server/certificateCopies.js"

const der = (...bytes: Array<number>) => new Uint8Array(bytes)

describe("certificate copies", () => {
  it("hands over the kept copy for the same serial and equal bytes", () => {
    const copies = makeCertificateCopies(10)
    const first = der(1, 2, 3)
    expect(copies.shared("01", first)).toBe(first)
    expect(copies.shared("01", der(1, 2, 3))).toBe(first)
    // A view into a larger buffer, as a database driver may hand over.
    const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)
    expect(copies.shared("01", view)).toBe(first)
  })

  it("hands over what was read when its bytes differ, and keeps that from then on", () => {
    const copies = makeCertificateCopies(10)
    copies.shared("01", der(1, 2, 3))
    const other = der(1, 2, 4)
    expect(copies.shared("01", other)).toBe(other)
    expect(copies.shared("01", der(1, 2, 4))).toBe(other)
    const longer = der(1, 2, 4, 5)
    expect(copies.shared("01", longer)).toBe(longer)
  })

  it("keeps at most its bound, the least recently used going first, and nothing at 0", () => {
    const copies = makeCertificateCopies(2)
    const a = der(1)
    copies.shared("a", a)
    copies.shared("b", der(2))
    copies.shared("a", der(1))
    copies.shared("c", der(3))
    expect(copies.size()).toBe(2)
    expect(copies.shared("a", der(1))).toBe(a)
    const b = der(2)
    expect(copies.shared("b", b)).toBe(b)
    const off = makeCertificateCopies(0)
    const x = der(7)
    off.shared("x", der(7))
    expect(off.shared("x", x)).toBe(x)
    expect(off.size()).toBe(0)
  })

  it("answers that share a copy encode to the same bytes as fresh copies", () => {
    const copies = makeCertificateCopies(10)
    const answer = (cert: Uint8Array) =>
      encodeIrp({
        _tag: "irp.LookupResult",
        id: "01HZY0000000000000000000AA" as never,
        handle: "bob@example.org" as never,
        status: "good",
        chain: [cert],
        bindings: []
      })
    const fresh = der(...Array.from({ length: 300 }, (_, i) => i % 251))
    expect(answer(copies.shared("07", fresh))).toEqual(answer(fresh))
    expect(answer(copies.shared("07", fresh.slice()))).toEqual(answer(fresh.slice()))
  })
})
