/**
 * The discovery cache policy (PROTOCOL.md §21.4): positive answers live for their TTL clamped to
 * [`floorSeconds`, `capSeconds`]; negative answers ("." refusal, no record at all) live for
 * `negativeSeconds` (RFC 2308 caches NXDOMAIN/NODATA by the SOA minimum, which the resolver here
 * cannot read, so a short fixed time stands in); DNS failures and timeouts are not cached, so the
 * next lookup asks again. At most `maxEntries` domains are held; inserting into a full cache drops
 * expired entries first, then the entry that expires soonest.
 *
 * Pure: the caller passes the time (epoch ms) in and gets a new cache back.
 */
import type { Discovery, DiscoveryError } from "./discovery.js"

export const CachePolicy = {
  floorSeconds: 5,
  capSeconds: 3_600,
  negativeSeconds: 30,
  maxEntries: 256
} as const
export type CachePolicy = { readonly [K in keyof typeof CachePolicy]: number }

export type Cached =
  | { readonly _tag: "Found"; readonly discovery: Discovery }
  | { readonly _tag: "Failed"; readonly error: DiscoveryError }

interface Entry {
  readonly value: Cached
  readonly expiresAt: number
}

export type DiscoveryCache = ReadonlyMap<string, Entry>

export const emptyCache: DiscoveryCache = new Map()

/** A record TTL clamped to the policy's floor and cap (non-finite or negative TTLs count as 0). */
export const clampTtl = (ttl: number, policy: CachePolicy = CachePolicy): number =>
  Math.min(policy.capSeconds, Math.max(policy.floorSeconds, Number.isFinite(ttl) ? Math.floor(ttl) : 0))

/** Only answers that say something about the domain are cached; failures to get an answer are not. */
export const isCacheable = (error: DiscoveryError): boolean =>
  error.reason === "ServiceRefused" || error.reason === "NotFound" || error.reason === "TooManyRecords"

/** Seconds an entry lives: the discovery's TTL, or the negative TTL. */
export const lifetime = (value: Cached, policy: CachePolicy = CachePolicy): number =>
  value._tag === "Found" ? clampTtl(value.discovery.ttl, policy) : policy.negativeSeconds

/** The cached answer for `domain` at `now`, if one is still valid. */
export const lookup = (cache: DiscoveryCache, domain: string, now: number): Cached | undefined => {
  const entry = cache.get(domain)
  return entry !== undefined && now < entry.expiresAt ? entry.value : undefined
}

/** `cache` with `value` stored for `domain` from `now`, kept within `maxEntries`. */
export const insert = (
  cache: DiscoveryCache,
  domain: string,
  value: Cached,
  now: number,
  policy: CachePolicy = CachePolicy
): DiscoveryCache => {
  const next = new Map([...cache].filter(([key, e]) => key !== domain && now < e.expiresAt))
  while (next.size >= policy.maxEntries) {
    let soonest: string | undefined
    let at = Number.POSITIVE_INFINITY
    for (const [key, e] of next)
      if (e.expiresAt < at) {
        at = e.expiresAt
        soonest = key
      }
    if (soonest === undefined) break
    next.delete(soonest)
  }
  next.set(domain, { value, expiresAt: now + lifetime(value, policy) * 1000 })
  return next
}
