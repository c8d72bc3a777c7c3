/**
 * The fair admission table (issue 10 §4; PROTOCOL.md §15.7, §17.1.7): per-source cap, total cap with
 * longest queue drop, removal.
 */
import { describe, expect, it } from "vitest"
import { AdmissionTable } from "../../src/domain/admission.js"
import { sourceKey } from "../../src/domain/sourceKey.js"

describe("AdmissionTable", () => {
  it("refuses a source's connection over its cap and keeps the ones it holds", () => {
    const t = new AdmissionTable<string>({ perSource: 2, total: 10 })
    expect(t.admit("a", "a1")).toEqual({ _tag: "Admitted", evicted: undefined })
    expect(t.admit("a", "a2")).toEqual({ _tag: "Admitted", evicted: undefined })
    expect(t.admit("a", "a3")).toEqual({ _tag: "Refused", held: 2 })
    expect(t.admit("b", "b1")._tag).toBe("Admitted")
    expect([t.size, t.heldBy("a"), t.heldBy("b")]).toEqual([3, 2, 1])
    // A finished handshake frees the slot for the next one from that source.
    expect(t.remove("a", "a1")).toBe(true)
    expect(t.remove("a", "a1")).toBe(false)
    expect(t.admit("a", "a4")._tag).toBe("Admitted")
  })

  it("when full, the source holding the most loses its oldest, never a smaller source", () => {
    const t = new AdmissionTable<string>({ perSource: 8, total: 6 })
    for (const id of ["f1", "f2", "f3", "f4"]) t.admit("flood", id)
    t.admit("x", "x1")
    t.admit("y", "y1")
    // A newcomer from a third source takes the flood's oldest slot.
    expect(t.admit("z", "z1")).toEqual({ _tag: "Admitted", evicted: "f1" })
    // The flooder's own newcomer replaces its own oldest: it still holds 4 of 6.
    expect(t.admit("flood", "f5")).toEqual({ _tag: "Admitted", evicted: "f2" })
    expect([t.size, t.heldBy("flood"), t.heldBy("x"), t.heldBy("y"), t.heldBy("z")]).toEqual([6, 3, 1, 1, 1])
    // An evicted item is gone: removing it later changes nothing.
    expect(t.remove("flood", "f1")).toBe(false)
    expect(t.size).toBe(6)
  })

  it("among equal holders, the oldest connection goes first", () => {
    const t = new AdmissionTable<string>({ perSource: 1, total: 3 })
    t.admit("a", "a1")
    t.admit("b", "b1")
    t.admit("c", "c1")
    expect(t.admit("d", "d1")).toEqual({ _tag: "Admitted", evicted: "a1" })
    expect(t.admit("e", "e1")).toEqual({ _tag: "Admitted", evicted: "b1" })
    expect(t.heldBy("a")).toBe(0)
  })

  it("counts an IPv6 /64 and an IPv4-mapped address as one source", () => {
    const t = new AdmissionTable<string>({ perSource: 2, total: 100 })
    t.admit(sourceKey("2001:db8:1:2::1"), "one")
    t.admit(sourceKey("2001:db8:1:2:ffff::9"), "two")
    expect(t.admit(sourceKey("2001:db8:1:2:abcd::7"), "three")._tag).toBe("Refused")
    expect(t.admit(sourceKey("2001:db8:1:3::1"), "other /64")._tag).toBe("Admitted")
    t.admit(sourceKey("192.0.2.7"), "v4")
    t.admit(sourceKey("::ffff:192.0.2.7"), "mapped")
    expect(t.admit(sourceKey("192.0.2.7"), "third")._tag).toBe("Refused")
  })
})
