/**
 * The request log's time stamp (`cli/serverLog.ts`): made once per millisecond, always the text
 * `Date.prototype.toISOString` gives for the current millisecond.
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import { isoClock } from "../../src/cli/serverLog.js"

afterEach(() => {
  vi.restoreAllMocks()
})

describe("isoClock", () => {
  it("gives toISOString's text of the current millisecond, within one and across many", () => {
    let now = Date.UTC(2025, 0, 2, 3, 4, 5, 678)
    vi.spyOn(Date, "now").mockImplementation(() => now)
    const iso = isoClock()
    expect(iso()).toBe("2025-01-02T03:04:05.678Z")
    expect(iso()).toBe("2025-01-02T03:04:05.678Z")
    for (const step of [1, 1, 321, 86_400_000, 1]) {
      now += step
      expect(iso()).toBe(new Date(now).toISOString())
    }
    // The clock going back (a time change) is followed too.
    now -= 5_000
    expect(iso()).toBe(new Date(now).toISOString())
  })
})
