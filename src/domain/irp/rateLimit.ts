/**
 * Token buckets for the IRP's rate limits (PROTOCOL.md §17: "Anonymous requests are rate-limited per
 * source address, authenticated ones per identity"). Pure: the time comes in as epoch milliseconds, so
 * the server drives them with the Effect `Clock` and tests with `TestClock`.
 */

/** A bucket holds up to `burst` tokens and regains `perSecond` of them each second. */
export interface BucketPolicy {
  readonly burst: number
  readonly perSecond: number
}

export interface Bucket {
  readonly tokens: number
  /** Epoch ms of the last refill. */
  readonly at: number
}

export interface Take {
  readonly bucket: Bucket
  readonly allowed: boolean
  /** When refused: how long until `cost` tokens are there again. */
  readonly retryAfterMs: number
}

/**
 * Takes `cost` tokens from `bucket` (a full one when `undefined`). A refused take leaves the tokens as
 * they were, so a client that keeps hammering is not locked out forever once it slows down.
 */
export const takeTokens = (bucket: Bucket | undefined, policy: BucketPolicy, now: number, cost: number): Take => {
  const elapsed = bucket === undefined ? 0 : Math.max(0, now - bucket.at)
  const tokens =
    bucket === undefined ? policy.burst : Math.min(policy.burst, bucket.tokens + (elapsed * policy.perSecond) / 1000)
  if (tokens >= cost) return { bucket: { tokens: tokens - cost, at: now }, allowed: true, retryAfterMs: 0 }
  const missing = Math.min(cost, policy.burst) - tokens
  const retryAfterMs = policy.perSecond > 0 ? Math.ceil((missing * 1000) / policy.perSecond) : 86_400_000
  return { bucket: { tokens, at: now }, allowed: false, retryAfterMs }
}

/** The source key (IPv4 address, IPv6 /64) now lives in `../sourceKey.ts`, shared with connection admission. */
export { sourceKey } from "../sourceKey.js"
