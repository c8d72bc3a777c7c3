/**
 * DomainResolver over DNS (PROTOCOL.md §21) with `node:dns/promises` `Resolver`: one resolver per
 * discovery, asking the server of `--dns` / `SIXCHAT_DNS` (else the system's), one try per query with
 * a timeout, an outer bound on each query and on the whole discovery, and a cap on the records used.
 *
 * Why a DNS failure is an error and not a fallback to `irp.D`: only NXDOMAIN or NODATA says "this
 * domain publishes no SRV record". A timeout or SERVFAIL says nothing about the domain; falling back
 * then would send the user to a host the operator may not run (and cache that for its TTL), and would
 * let whoever can drop DNS packets choose the fallback. The user sees the DNS problem instead.
 */
import { Resolver } from "node:dns/promises"
import { Clock, Config, ConfigError, Deferred, Effect, Either, FiberId, Layer, Option, Random, Ref } from "effect"
import * as Cache from "../../domain/federation/cache.js"
import {
  type Discovery,
  type DiscoveryError,
  type DiscoveryLimits,
  discoveryError,
  fallbackHost,
  IRP_PORT,
  type IrpTarget,
  Limits,
  normalizeDomain,
  parseDnsServer,
  type SrvRecord,
  srvName,
  type TtlAddress
} from "../../domain/federation/discovery.js"
import { orderSrv } from "../../domain/federation/srv.js"
import { DomainResolver, type DomainResolverService } from "../../services/DomainResolver.js"

/** node:dns does not report an SRV record's own TTL, so an SRV answer is never kept longer than this. */
export const SRV_TTL_CEILING = 300

/** DNS errors that mean "the name or the record type does not exist" (RFC 2308 NXDOMAIN / NODATA). */
const NO_RECORD = new Set(["ENOTFOUND", "ENODATA"])

export interface Options {
  /** `IP:PORT` of the DNS server; `undefined`: `SIXCHAT_DNS`, else the system's resolvers. */
  readonly server?: string | undefined
  readonly limits?: Partial<DiscoveryLimits>
  readonly policy?: Partial<Cache.CachePolicy>
}

/** One query: `None` for NXDOMAIN/NODATA, a typed error for anything else that is not an answer. */
const query = <A>(domain: string, limits: DiscoveryLimits, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (e) => e }).pipe(
    Effect.map(Option.some),
    Effect.catchAll((e) => {
      const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : ""
      if (NO_RECORD.has(code)) return Effect.succeed(Option.none<A>())
      return Effect.fail(
        discoveryError(code === "ETIMEOUT" ? "Timeout" : "DnsFailure", domain, e, limits.queryTimeoutMs)
      )
    }),
    // c-ares enforces the timeout; this bound holds even if it did not.
    Effect.timeoutFail({
      duration: limits.queryTimeoutMs + 500,
      onTimeout: () => discoveryError("Timeout", domain, undefined, limits.queryTimeoutMs)
    })
  )

/** AAAA then A of one host, at most `maxAddressesPerFamily` of each. */
const addresses = (resolver: Resolver, domain: string, host: string, limits: DiscoveryLimits) =>
  Effect.all(
    [
      query(domain, limits, () => resolver.resolve6(host, { ttl: true })),
      query(domain, limits, () => resolver.resolve4(host, { ttl: true }))
    ],
    { concurrency: 2 }
  ).pipe(
    Effect.map(
      (families): ReadonlyArray<TtlAddress> =>
        families.flatMap((f) => Option.getOrElse(f, () => []).slice(0, limits.maxAddressesPerFamily))
    )
  )

const target = (record: SrvRecord, found: ReadonlyArray<TtlAddress>, policy: Cache.CachePolicy): IrpTarget => ({
  ...record,
  addresses: found.map((a) => a.address),
  ttl: found.length === 0 ? policy.negativeSeconds : Cache.clampTtl(Math.min(...found.map((a) => a.ttl)), policy)
})

const discoverUncached = (
  resolver: Resolver,
  domain: string,
  limits: DiscoveryLimits,
  policy: Cache.CachePolicy
): Effect.Effect<Discovery, DiscoveryError> =>
  Effect.gen(function* () {
    const srv = yield* query(domain, limits, () => resolver.resolveSrv(srvName(domain)))
    if (Option.isNone(srv)) {
      // §21.2: no SRV record at all, so irp.D on the IRP port.
      const host = fallbackHost(domain)
      const found = yield* addresses(resolver, domain, host, limits)
      if (found.length === 0) return yield* Effect.fail(discoveryError("NotFound", domain))
      const only = target({ target: host, port: IRP_PORT, priority: 0, weight: 0 }, found, policy)
      return { domain, source: "fallback", targets: [only], ttl: only.ttl } satisfies Discovery
    }
    if (srv.value.length > limits.maxSrvRecords) return yield* Effect.fail(discoveryError("TooManyRecords", domain))
    const records = srv.value.map((r) => ({
      target: r.name.toLowerCase().replace(/\.$/, ""),
      port: r.port,
      priority: r.priority,
      weight: r.weight
    }))
    const order = orderSrv(records, yield* Random.nextIntBetween(0, 2 ** 31))
    if (order._tag === "Refused") return yield* Effect.fail(discoveryError("ServiceRefused", domain))
    const targets = yield* Effect.forEach(
      order.records,
      (r) => Effect.map(addresses(resolver, domain, r.target, limits), (found) => target(r, found, policy)),
      { concurrency: limits.addressConcurrency }
    )
    const reachable = targets.filter((t) => t.addresses.length > 0)
    if (reachable.length === 0) return yield* Effect.fail(discoveryError("NoAddress", domain))
    const ttl = Math.min(SRV_TTL_CEILING, ...reachable.map((t) => t.ttl))
    return { domain, source: "srv", targets, ttl } satisfies Discovery
  })

/** The service, given the DNS server to ask (already validated) and the bounds. */
export const makeWith = (server: string | undefined, options: Omit<Options, "server"> = {}) =>
  Effect.gen(function* () {
    const limits: DiscoveryLimits = { ...Limits, ...options.limits }
    const policy: Cache.CachePolicy = { ...Cache.CachePolicy, ...options.policy }
    const cache = yield* Ref.make(Cache.emptyCache)

    const fresh = (domain: string) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          const resolver = new Resolver({ timeout: limits.queryTimeoutMs, tries: 1 })
          if (server !== undefined) resolver.setServers([server])
          return resolver
        }),
        (resolver) =>
          discoverUncached(resolver, domain, limits, policy).pipe(
            Effect.timeoutFail({
              duration: limits.totalTimeoutMs,
              onTimeout: () => discoveryError("Timeout", domain, undefined, limits.totalTimeoutMs)
            })
          ),
        // Interrupted or finished: no query of this discovery outlives it.
        (resolver) => Effect.sync(() => resolver.cancel())
      )

    /**
     * One discovery per domain at a time: concurrent callers of the same domain wait for the one in
     * flight instead of each sending its own queries. The discovery runs in its own fiber (bounded by
     * `totalTimeoutMs`), so a caller that gives up does not cancel it for the others, and it stores its
     * outcome in the cache before it leaves the in-flight table.
     */
    const inFlight = new Map<string, Deferred.Deferred<Discovery, DiscoveryError>>()
    const runAndStore = (domain: string) =>
      Effect.gen(function* () {
        const result = yield* Effect.either(fresh(domain))
        const at = yield* Clock.currentTimeMillis
        if (Either.isRight(result))
          yield* Ref.update(cache, (c) =>
            Cache.insert(c, domain, { _tag: "Found", discovery: result.right }, at, policy)
          )
        else if (Cache.isCacheable(result.left))
          yield* Ref.update(cache, (c) => Cache.insert(c, domain, { _tag: "Failed", error: result.left }, at, policy))
        return yield* result
      })
    const shared = (domain: string): Effect.Effect<Discovery, DiscoveryError> =>
      Effect.suspend(() => {
        const running = inFlight.get(domain)
        if (running !== undefined) return Deferred.await(running)
        const done = Deferred.unsafeMake<Discovery, DiscoveryError>(FiberId.none)
        inFlight.set(domain, done)
        return Effect.gen(function* () {
          yield* runAndStore(domain).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => inFlight.delete(domain)).pipe(Effect.zipRight(Deferred.done(done, exit)))
            ),
            Effect.forkDaemon
          )
          return yield* Deferred.await(done)
        })
      })

    const discover: DomainResolverService["discover"] = Effect.fn("DomainResolver.discover")(function* (text: string) {
      const domain = normalizeDomain(text)
      if (domain === undefined) return yield* Effect.fail(discoveryError("InvalidDomain", text))
      const now = yield* Clock.currentTimeMillis
      const hit = Cache.lookup(yield* Ref.get(cache), domain, now)
      if (hit !== undefined)
        return hit._tag === "Found" ? { ...hit.discovery, cached: true } : yield* Effect.fail(hit.error)
      const result = yield* Effect.either(shared(domain))
      if (Either.isRight(result)) return { ...result.right, cached: false }
      return yield* Effect.fail(result.left)
    })

    return DomainResolver.of({ discover })
  })

/** `options.server`, else `SIXCHAT_DNS` (read through Config), else the system's resolvers. */
export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const configured = options.server ?? Option.getOrUndefined(yield* Config.option(Config.string("SIXCHAT_DNS")))
    if (configured !== undefined && parseDnsServer(configured) === undefined)
      return yield* Effect.fail(
        ConfigError.InvalidData(
          ["SIXCHAT_DNS"],
          `"${configured}" is not a DNS server IP:PORT; write it as 127.0.0.1:53 or [::1]:53`
        )
      )
    return yield* makeWith(configured, options)
  })

export const layer = (options: Options = {}): Layer.Layer<DomainResolver, ConfigError.ConfigError> =>
  Layer.effect(DomainResolver, make(options))
