/**
 * One DER copy per certificate serial (`certificateCopies.ts`): equal bytes share the kept copy (so the
 * encoder's base64 cache hits), different bytes are never replaced by the kept ones, it is bounded, and
 * a serial is kept only from its second sighting (the doorkeeper), so reads spread over many more serials
 * than the bound do not churn it.
 */
import { describe, expect, it } from "vitest"
import { encodeIrp } from "../../../src/domain/irp/xml.js"
import { makeCertificateCopies } from "../../../src/layers/irp/server/certificateCopies.js"
import { makeDoorkeeper } from "../../../src/layers/irp/server/doorkeeper.js"

const der = (...bytes: Array<number>) => new Uint8Array(bytes)

describe("certificate copies", () => {
  it("hands over the kept copy for the same serial and equal bytes", () => {
    const copies = makeCertificateCopies(10)
    const first = der(1, 2, 3)
    // The first sighting is handed on and not kept; the second is kept.
    const once = der(1, 2, 3)
    expect(copies.shared("01", once)).toBe(once)
    expect(copies.size()).toBe(0)
    expect(copies.shared("01", first)).toBe(first)
    expect(copies.size()).toBe(1)
    expect(copies.shared("01", der(1, 2, 3))).toBe(first)
    // A view into a larger buffer, as a database driver may hand over.
    const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)
    expect(copies.shared("01", view)).toBe(first)
  })

  it("hands over what was read when its bytes differ, and keeps that from then on", () => {
    const copies = makeCertificateCopies(10)
    copies.shared("01", der(1, 2, 3))
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
    for (const serial of ["a", "b", "c"]) copies.shared(serial, der(0))
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

  it("keeps a small population read over and over, not a uniform spread over many more serials", () => {
    const copies = makeCertificateCopies(64)
    const cert = der(...Array.from({ length: 100 }, (_, i) => i))
    // 50 serials, each read many times: all kept after their second read, then every read hits.
    const kept = new Map<string, Uint8Array>()
    for (let round = 0; round < 5; round++)
      for (let i = 0; i < 50; i++) {
        const got = copies.shared(`s${i}`, cert.slice())
        if (round >= 2) expect(got).toBe(kept.get(`s${i}`))
        kept.set(`s${i}`, got)
      }
    expect(copies.size()).toBe(50)
    // 100,000 serials read once each: at most a few (the doorkeeper's false positives) are kept.
    const spread = makeCertificateCopies(64)
    let keptCopies = 0
    for (let i = 0; i < 100_000; i++) {
      const before = spread.size()
      spread.shared(`u${i}`, cert.slice())
      if (spread.size() > before) keptCopies++
    }
    expect(keptCopies).toBeLessThan(100_000 * 0.05)
  })

  it("the doorkeeper says seen for every key seen within its window and forgets after it", () => {
    const door = makeDoorkeeper(1000)
    let falsePositives = 0
    for (let i = 0; i < 1000; i++) if (door.seenBefore(`k${i}`)) falsePositives++
    expect(falsePositives).toBeLessThan(50)
    for (let i = 0; i < 1000; i++) expect(door.seenBefore(`k${i}`)).toBe(true)
    // 1,000 new keys: the window is full, the filter is reset, the old keys are new again (mostly).
    for (let i = 0; i < 1001; i++) door.seenBefore(`n${i}`)
    let remembered = 0
    for (let i = 0; i < 1000; i++) if (door.seenBefore(`k${i}`)) remembered++
    expect(remembered).toBeLessThan(100)
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
