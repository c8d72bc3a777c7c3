/** What the people commands print, as pure functions: progress, sizes, durations, peer text made safe. */
import { describe, expect, it } from "vitest"
import { bytes, duration, groupedHex, printable, stateMark } from "../../../src/cli/people/format.js"
import { Progress, progressText } from "../../../src/cli/people/progress.js"

describe("people output", () => {
  it("progress text has a bar, percent, amounts, rate and ETA", () => {
    expect(progressText("a.bin", { offset: 512 * 1024, size: 1024 * 1024, now: 0 }, 128 * 1024)).toBe(
      "a.bin  [============>           ]  50%  512 KiB/1.0 MiB  128 KiB/s  ETA 0:04"
    )
    expect(progressText("a.bin", { offset: 0, size: 10, now: 0 }, undefined)).toBe(
      "a.bin  [>                       ]   0%  0 B/10 B"
    )
    expect(progressText("e", { offset: 0, size: 0, now: 0 }, undefined)).toContain("100%")
  })

  it("on a terminal redraws one line; off a terminal prints at most one line per second", () => {
    const tty = new Progress("f", true)
    const first = tty.update({ offset: 0, size: 100, now: 0 })
    expect(first.startsWith("\r")).toBe(true)
    expect(first.endsWith("\u001b[K")).toBe(true)
    expect(tty.update({ offset: 50, size: 100, now: 1000 })).toContain("50 B/s  ETA 0:01")
    expect(tty.finish("done")).toBe("\r\u001b[Kdone\n")

    const plain = new Progress("f", false)
    const lines = [0, 400, 999, 1000, 1500, 2100].map((now) => plain.update({ offset: now / 100, size: 100, now }))
    expect(lines.map((l) => l !== "")).toEqual([true, false, false, true, false, true])
    expect(lines.every((l) => !l.includes("\r"))).toBe(true)
    expect(plain.finish("done")).toBe("done\n")
  })

  it("sizes, durations, fingerprints, marks", () => {
    expect([bytes(0), bytes(1023), bytes(1024), bytes(1536), bytes(20 * 1024 * 1024), bytes(3 * 1024 ** 3)]).toEqual([
      "0 B",
      "1023 B",
      "1.0 KiB",
      "1.5 KiB",
      "20 MiB",
      "3.0 GiB"
    ])
    expect([duration(0), duration(7.4), duration(750), duration(3723)]).toEqual(["0:00", "0:07", "12:30", "1:02:03"])
    expect(groupedHex("abcdef0123")).toBe("abcd ef01 23")
    expect(stateMark({ direction: "out", state: "queued" })).toBe("…")
    expect(stateMark({ direction: "out", state: "sent" })).toBe("✓")
    expect(stateMark({ direction: "out", state: "delivered" })).toBe("✓✓")
    expect(stateMark({ direction: "out", state: "read" })).toBe("✓✓ read")
    expect(stateMark({ direction: "in", state: "read" })).toBe("")
  })

  it("peer text cannot reach the terminal as control sequences", () => {
    expect(printable("a\u001b[2Jb\rc\u009b1md\u202eevil\tok\nnext")).toBe(
      "a\uFFFD[2Jb\uFFFDc\uFFFD1md\uFFFDevil\tok\nnext"
    )
  })
})
