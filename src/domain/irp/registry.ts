/**
 * The IRP registry's domain (PROTOCOL.md §17, `Register` / `Deregister` / `Lookup` / `Watch`): device
 * bindings, the lease policy, enrolment-token outcomes and the one error type of the storage port.
 * Pure: schemas, brands and functions of their arguments (times come in as epoch milliseconds).
 */
import { Data, Either, Schema } from "effect"
import { Address, type Handle } from "../brands.js"
import { ipv6Groups } from "../sourceKey.js"

/** A user's device, chosen by the device itself: 1-64 characters of `[A-Za-z0-9._-]`. */
export const DeviceId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/), Schema.brand("DeviceId"))
export type DeviceId = typeof DeviceId.Type

/** Largest sequence number: the storages keep it in a signed 64-bit column. */
export const MAX_SEQ = 2n ** 63n - 1n

/**
 * Per-device registration sequence number (PROTOCOL.md §17: "`seq` must grow per device"). A bigint
 * because clients commonly use a 64-bit counter or a clock reading, both past 2^53. A device that
 * forgets its counter (reinstall) should start from its clock in milliseconds, which is above any
 * counter it used before.
 */
export const Seq = Schema.BigIntFromSelf.pipe(Schema.betweenBigInt(0n, MAX_SEQ), Schema.brand("Seq"))
export type Seq = typeof Seq.Type

/** Most addresses one device may register (a dual-stack host with a few interfaces fits easily). */
export const MAX_ADDRESSES_PER_DEVICE = 8

/** The addresses one device registers: 1 to 8 of them. */
export const Addresses = Schema.NonEmptyArray(Address).pipe(Schema.maxItems(MAX_ADDRESSES_PER_DEVICE))
export type Addresses = typeof Addresses.Type

/** One device's current lease: where a handle can be reached (PROTOCOL.md §17, `Register`). */
export const Binding = Schema.Struct({
  deviceId: DeviceId,
  addresses: Addresses,
  /** Epoch ms; the binding is never returned once `now >= expiresAt`. */
  expiresAt: Schema.Number,
  seq: Seq,
  /** The source address the server saw the `Register` come from, when it knows it. */
  observed: Schema.UndefinedOr(Address),
  /** Epoch ms of the registration that produced this binding. */
  updatedAt: Schema.Number
})
export type Binding = typeof Binding.Type

/**
 * Lease bounds and the per-user device cap. Registrations follow SIP registrars (RFC 3261 section
 * 10.3, `Min-Expires`): leases are short so that a node that moved, or vanished, stops being handed
 * out quickly, yet not so short that keeping them fresh floods the server. A lease shorter than
 * `minTtlSeconds` is refused (not silently raised), so the client learns the bound.
 */
export interface LeasePolicy {
  /** Shortest lease accepted, seconds (default 30). */
  readonly minTtlSeconds: number
  /** Longest lease accepted, seconds (default 3600: a node that vanished is forgotten within the hour). */
  readonly maxTtlSeconds: number
  /** Devices one handle may have registered at once (default 8); expired bindings do not count. */
  readonly maxDevicesPerHandle: number
  /**
   * How long an expired or deregistered device's row (and so its sequence high-water mark) is kept
   * before `purgeExpired` removes it, seconds (default 7 days). Until then a replay of one of its
   * old registrations is still refused as stale.
   */
  readonly retainExpiredSeconds: number
}

export const defaultLeasePolicy: LeasePolicy = {
  minTtlSeconds: 30,
  maxTtlSeconds: 3600,
  maxDevicesPerHandle: 8,
  retainExpiredSeconds: 7 * 24 * 3600
}

/** What the registry reports, one reason per refusal (the IRP maps them to `<Error code>`). */
export type RegistryErrorReason =
  | "StaleSequence" // seq not greater than the stored one for this device (stale or replayed)
  | "LeaseTooShort"
  | "LeaseTooLong"
  | "TooManyDevices"
  | "TokenNotFound"
  | "TokenExpired"
  | "TokenUsed"
  | "TokenWrongHandle"
  | "NotFound"
  | "Conflict"
  | "Storage" // the database failed or returned something malformed; `cause` holds the SqlError

export class RegistryError extends Data.TaggedError("RegistryError")<{
  readonly reason: RegistryErrorReason
  /** One sentence saying what went wrong and what to do. */
  readonly message: string
  readonly cause?: unknown
}> {}

/** Checks a requested lease against the policy (PROTOCOL.md §17: "lease = ttl (bounded, too short is refused)"). */
export const checkLease = (policy: LeasePolicy, ttlSeconds: number): Either.Either<number, RegistryError> => {
  // Written as negated comparisons so that NaN is refused too.
  if (!(ttlSeconds >= policy.minTtlSeconds)) {
    return Either.left(
      new RegistryError({
        reason: "LeaseTooShort",
        message: `A lease of ${ttlSeconds} s is too short: ask for at least ${policy.minTtlSeconds} s.`
      })
    )
  }
  if (!(ttlSeconds <= policy.maxTtlSeconds)) {
    return Either.left(
      new RegistryError({
        reason: "LeaseTooLong",
        message: `A lease of ${ttlSeconds} s is too long: ask for at most ${policy.maxTtlSeconds} s and renew it.`
      })
    )
  }
  return Either.right(Math.floor(ttlSeconds * 1000))
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/**
 * What two hosts are compared by (PROTOCOL.md §17.5.5): an IP literal by its 16-byte binary form, so
 * `192.0.2.1`, `::ffff:192.0.2.1` and `0:0:0:0:0:ffff:c000:201` are one host, as are `2001:db8::1` and
 * `2001:0DB8:0:0:0:0:0:1`; brackets and a `%zone` are ignored. Anything else (a DNS name, or a dotted
 * quad with leading zeros, which some parsers read as octal) is compared as lower-case text.
 */
export const hostKey = (host: string): string => {
  const h = host
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "")
    .toLowerCase()
  const v4 = IPV4.test(h) ? h.split(".").map(Number) : undefined
  const groups =
    v4 !== undefined ? [0, 0, 0, 0, 0, 0xffff, (v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!] : ipv6Groups(h)
  return groups === undefined ? `name:${h.replace(/\.$/, "")}` : `ip:${groups.map((g) => g.toString(16)).join(":")}`
}

/**
 * PROTOCOL.md §17.5.5: the answer "flags a suspected NAT when [the observed address] is not among the
 * registered ones". Only hosts are compared, by `hostKey`: the observed port is the client's ephemeral
 * source port, never its listening port. `false` when nothing was observed.
 */
export const natSuspected = (binding: Pick<Binding, "addresses" | "observed">): boolean => {
  if (binding.observed === undefined) return false
  const seen = hostKey(binding.observed.host)
  return !binding.addresses.some((a) => hostKey(a.host) === seen)
}

/** What the change feed carries: this handle's bindings or certificate status changed (PROTOCOL.md §17, `Watch`). */
export interface RegistryChange {
  readonly handle: Handle
  readonly kind: "bindings" | "certificate"
  /** `certificate`: the serial (lower-case hex) that was revoked, when the change is a revocation. */
  readonly revokedSerial?: string | undefined
}
