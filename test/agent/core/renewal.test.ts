/**
 * When the agent renews its certificate (PROTOCOL.md 17.4.8): 2/3 of the lifetime counted from the
 * time of issue (notBefore + the CA's 5-minute backdate), and retries that double but fit the expiry.
 */
import { describe, expect, it } from "vitest"
import { RETRY_BASE_MS, RETRY_MAX_MS, renewalDue, retryDelay } from "../../../src/domain/agent/renewal.js"

const MIN = 60_000
const DAY = 86_400_000

describe("renewal schedule", () => {
  it("is due at 2/3 of the lifetime from the time of issue, not from the backdated notBefore", () => {
    const issued = Date.UTC(2026, 0, 1)
    const notBefore = issued - 5 * MIN
    expect(renewalDue(notBefore, issued + 365 * DAY)).toBe(issued + Math.floor((365 * DAY * 2) / 3))
    // A 45 s certificate: due 30 s after issue (counting from notBefore would make it due at once).
    expect(renewalDue(notBefore, issued + 45_000)).toBe(issued + 30_000)
    // A certificate that ends before the backdate is over: due at its end at the latest.
    expect(renewalDue(notBefore, notBefore + MIN)).toBe(notBefore + MIN)
  })

  it("retries after a doubling delay, at most 10 minutes and a tenth of the time left", () => {
    const now = 0
    expect(retryDelay(1, now, 365 * DAY)).toBe(RETRY_BASE_MS)
    expect(retryDelay(2, now, 365 * DAY)).toBe(2 * RETRY_BASE_MS)
    expect(retryDelay(30, now, 365 * DAY)).toBe(RETRY_MAX_MS)
    expect(retryDelay(30, now, 60_000)).toBe(6_000)
    // Expired or nearly: still one base delay, never a busy loop.
    expect(retryDelay(30, now, -DAY)).toBe(RETRY_BASE_MS)
  })
})
