/**
 * Discovery of a domain's IRP through DNS (PROTOCOL.md §21): the names asked, the answer shapes, the
 * error every failure becomes, and the limits every read is held to. Pure: no I/O here.
 */
import { Data } from "effect"

/** The SRV owner name of a domain's IRP (§21.1). */
export const srvName = (domain: string): string => `_sixchat-irp._tcp.${domain}`
/** The fallback host when a domain publishes no SRV record (§21.2). */
export const fallbackHost = (domain: string): string => `irp.${domain}`
/** IRP port (§2, §17). */
export const IRP_PORT = 4604

/** The bounds on one discovery (§21.5). */
export const Limits = {
  /** One DNS query (one try): after this the answer is a `Timeout`. */
  queryTimeoutMs: 2_000,
  /** A whole discovery (SRV query plus every target's AAAA and A). */
  totalTimeoutMs: 8_000,
  /** More SRV records than this is refused as `TooManyRecords`, not truncated. */
  maxSrvRecords: 16,
  /** Addresses kept per family per target (the first ones in the answer). */
  maxAddressesPerFamily: 8,
  /** Address lookups in flight at once. */
  addressConcurrency: 4
} as const
export type DiscoveryLimits = { readonly [K in keyof typeof Limits]: number }

/** One SRV record as read from DNS (RFC 2782). */
export interface SrvRecord {
  readonly target: string
  readonly port: number
  readonly priority: number
  readonly weight: number
}

/** One address with the TTL its record carried. */
export interface TtlAddress {
  readonly address: string
  readonly ttl: number
}

/** A target in dial order, with its addresses AAAA first, then A. */
export interface IrpTarget extends SrvRecord {
  readonly addresses: ReadonlyArray<string>
  /** Seconds this target's addresses may be used (smallest record TTL, clamped: §21.4). */
  readonly ttl: number
}

/** A discovered IRP: its targets in the order to try them. */
export interface Discovery {
  readonly domain: string
  /** `srv`: from `_sixchat-irp._tcp.D`; `fallback`: no SRV record, so `irp.D` port 4604. */
  readonly source: "srv" | "fallback"
  readonly targets: ReadonlyArray<IrpTarget>
  /** Seconds the whole answer is cached for (§21.4). */
  readonly ttl: number
}

export type DiscoveryFailure =
  /** The name is not a DNS domain name. */
  | "InvalidDomain"
  /** The SRV record's target is "." (RFC 2782): the domain says it runs no IRP. */
  | "ServiceRefused"
  /** No SRV record, and `irp.D` has no AAAA or A record either (or no target has an address). */
  | "NotFound"
  /** SRV records exist, but none of their targets has an AAAA or A record. */
  | "NoAddress"
  /** The DNS server did not answer within the per-query bound. */
  | "Timeout"
  /** The DNS server answered with a failure (SERVFAIL, REFUSED, unreachable, malformed). */
  | "DnsFailure"
  /** More SRV records than `Limits.maxSrvRecords`. */
  | "TooManyRecords"

export class DiscoveryError extends Data.TaggedError("DiscoveryError")<{
  readonly reason: DiscoveryFailure
  readonly domain: string
  /** One sentence for the user, saying what to do next. */
  readonly message: string
  readonly cause?: unknown
}> {}

/** A DNS domain name (RFC 1035 §2.3.4, LDH labels, RFC 1123 leading digits); lower-cased, no trailing dot. */
export const normalizeDomain = (text: string): string | undefined => {
  const name = text.trim().toLowerCase().replace(/\.$/, "")
  if (name.length === 0 || name.length > 253) return undefined
  const labels = name.split(".")
  if (labels.length < 2) return undefined
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/
  return labels.every((l) => label.test(l)) ? name : undefined
}

/** "." (or the empty name some resolvers return for it) is the root: "service decidedly not available". */
export const isRootTarget = (target: string): boolean => target === "" || target === "."

export const discoveryError = (
  reason: DiscoveryFailure,
  domain: string,
  cause?: unknown,
  queryTimeoutMs: number = Limits.queryTimeoutMs
): DiscoveryError => {
  const text: Record<DiscoveryFailure, string> = {
    InvalidDomain: `"${domain}" is not a domain name; give one such as other.net.`,
    ServiceRefused: `${domain} publishes "." as the target of ${srvName(domain)}: it runs no SixChat IRP, so there is no one to reach there.`,
    NotFound: `${domain} has no ${srvName(domain)} SRV record and ${fallbackHost(domain)} has no address; check the domain name, or ask its operator to publish the records.`,
    NoAddress: `no target of ${srvName(domain)} has an AAAA or A record; ask the operator of ${domain} to fix its DNS.`,
    Timeout: `the DNS server did not answer about ${domain} within ${queryTimeoutMs / 1000} s; check --dns / SIXCHAT_DNS or your network and try again.`,
    DnsFailure: `the DNS server failed to answer about ${domain}${cause === undefined ? "" : ` (${describeCause(cause)})`}; check --dns / SIXCHAT_DNS and try again.`,
    TooManyRecords: `${domain} publishes more than ${Limits.maxSrvRecords} ${srvName(domain)} records; its operator should publish fewer.`
  }
  return new DiscoveryError({ reason, domain, message: text[reason], cause })
}

const describeCause = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "code" in cause
    ? String((cause as { code: unknown }).code)
    : String(cause)

/**
 * The DNS server to ask, from `--dns` or `SIXCHAT_DNS`: `IP:PORT` or `[IPv6]:PORT` (a name would need
 * DNS to find DNS). `undefined` when malformed.
 */
export const parseDnsServer = (text: string): string | undefined => {
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text)
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text)
  const m = v4 ?? v6
  if (m === null) return undefined
  const port = Number(m[2])
  if (port < 1 || port > 65535) return undefined
  if (v4 !== null && m[1]!.split(".").some((o) => Number(o) > 255)) return undefined
  return text
}
