/**
 * Rate limits of one server process (PROTOCOL.md §17): a token bucket per anonymous source (IPv4 address
 * or IPv6 /64) and per authenticated identity, driven by the Effect `Clock`. Over the limit a request is
 * answered `rate_limited` with a retry hint; the connection is never dropped for it.
 *
 * The buckets live in a Map kept in least-recently-used order and bounded by `maxTrackedKeys`, so a
 * flood of sources costs bounded memory (the oldest idle buckets go, which only forgives them).
 */
import { Clock, Effect } from "effect"
import type { Caller } from "../../../domain/irp/access.js"
import type { IrpRequestTag } from "../../../domain/irp/messages.js"
import { type Bucket, type BucketPolicy, sourceKey, takeTokens } from "../../../domain/irp/rateLimit.js"

export interface RateLimitPolicy {
  /** Per source address (IPv6: per /64) for anonymous requests. */
  readonly anonymous: BucketPolicy
  /** Per handle for authenticated requests, across all of its connections to this process. */
  readonly authenticated: BucketPolicy
  /**
   * Another domain's IRP (PROTOCOL.md §22.6): a bucket per asking domain, and the same again per source
   * address of federation callers, since certificates for many domain names are cheap to get and one host
   * presenting many of them must not multiply its share.
   */
  readonly federation?: BucketPolicy | undefined
  readonly maxTrackedKeys: number
}

/** PROTOCOL.md §22.6: 50 requests a second per asking domain, in bursts of 200. */
const FEDERATION_DEFAULT: BucketPolicy = { burst: 200, perSecond: 50 }

/**
 * Defaults: an anonymous source may enrol 3 times in a burst and then once per 10 s (Enroll costs 10),
 * or ask 30 Status questions then 1 per second; an identity may send 120 requests in a burst and 20 per
 * second after that, far above what a User Agent needs (a Register per lease, a Lookup per new contact).
 */
export const defaultRateLimits: RateLimitPolicy = {
  anonymous: { burst: 30, perSecond: 1 },
  authenticated: { burst: 120, perSecond: 20 },
  federation: FEDERATION_DEFAULT,
  maxTrackedKeys: 100_000
}

/**
 * What a request costs: issuing a certificate or signing a CRL is far dearer than a lookup. `DomainInfo`
 * (PROTOCOL.md §22.3.1) costs 1 like `Status` and `Ping`: its answer is made once and sent as is, and an
 * anonymous asker pays from the bucket of its source.
 */
export const requestCost = (tag: IrpRequestTag | "irp.InvalidRequest"): number =>
  tag === "irp.Enroll" || tag === "irp.Renew" ? 10 : tag === "irp.Crl" ? 5 : 1

export interface RateLimiter {
  /** `undefined` when allowed; otherwise how long to wait, in ms. */
  readonly take: (caller: Caller, cost: number) => Effect.Effect<number | undefined>
  /** `take` at a time the caller read from the `Clock` (the per-request path, without an effect). */
  readonly takeAt: (caller: Caller, cost: number, now: number) => number | undefined
}

export const make = (policy: RateLimitPolicy): RateLimiter => {
  const federation = policy.federation ?? FEDERATION_DEFAULT
  const buckets = new Map<string, Bucket>()
  const store = (key: string, bucket: Bucket) => {
    buckets.delete(key)
    buckets.set(key, bucket)
    if (buckets.size > policy.maxTrackedKeys) buckets.delete(buckets.keys().next().value!)
  }
  const takeAt = (caller: Caller, cost: number, now: number): number | undefined => {
    if (caller._tag === "Federation") {
      // Both buckets must allow it; a refusal takes from neither.
      const domainKey = `fed:${caller.domain}`
      const sourceKeyed = `fed-src:${sourceKey(caller.source.host)}`
      const byDomain = takeTokens(buckets.get(domainKey), federation, now, cost)
      const bySource = takeTokens(buckets.get(sourceKeyed), federation, now, cost)
      if (byDomain.allowed && bySource.allowed) {
        store(domainKey, byDomain.bucket)
        store(sourceKeyed, bySource.bucket)
        return undefined
      }
      return Math.max(byDomain.retryAfterMs, bySource.retryAfterMs)
    }
    const key = caller._tag === "Holder" ? `id:${caller.handle}` : sourceKey(caller.source.host)
    const bucketPolicy = caller._tag === "Holder" ? policy.authenticated : policy.anonymous
    const result = takeTokens(buckets.get(key), bucketPolicy, now, cost)
    store(key, result.bucket)
    return result.allowed ? undefined : result.retryAfterMs
  }
  return {
    take: (caller, cost) => Effect.map(Clock.currentTimeMillis, (now) => takeAt(caller, cost, now)),
    takeAt
  }
}
