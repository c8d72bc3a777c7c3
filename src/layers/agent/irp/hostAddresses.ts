/**
 * Which addresses a User Agent registers (PROTOCOL.md §§2 and 17): where peers can reach it. A
 * listener bound to a specific address is registered as it is; one bound to a wildcard (`::`,
 * `0.0.0.0`) stands for every usable address of the host in its family, with its port.
 *
 * Usable: not loopback, not link-local (a zone id is meaningless to a peer), not multicast, not
 * unspecified. Global unicast comes before unique-local / private (RFC 4193, RFC 1918, RFC 6598)
 * within each family, and IPv6 before IPv4 (PROTOCOL.md §2: "Works over IPv6 and over flat (NAT-free)
 * IPv4"). Loopback is registered only when the host has nothing else at all (a laptop offline, a
 * demo): handing out `::1` next to real addresses would send peers to themselves.
 *
 * Plain functions of the interface table (`os.networkInterfaces()`), so tests feed their own.
 */
import { isIPv4, isIPv6 } from "node:net"
import { type Address, formatAddress, makeAddress } from "../../../domain/brands.js"
import { MAX_ADDRESSES_PER_DEVICE } from "../../../domain/irp/registry.js"

/** The part of `os.NetworkInterfaceInfo` used here (`family` is a number on some Node versions). */
export interface InterfaceAddress {
  readonly address: string
  readonly family: string | number
  readonly internal: boolean
}

export type InterfaceTable = Readonly<Record<string, ReadonlyArray<InterfaceAddress> | undefined>>

const familyOf = (i: InterfaceAddress): 4 | 6 | undefined =>
  i.family === "IPv4" || i.family === 4 ? 4 : i.family === "IPv6" || i.family === 6 ? 6 : undefined

const v6Groups = (host: string): number => Number.parseInt(host.split(":")[0] || "0", 16)

/** 0 = global, 1 = private / unique-local, 2 = loopback, undefined = not usable by peers. */
export const scopeOf = (host: string): 0 | 1 | 2 | undefined => {
  if (isIPv6(host)) {
    const h = host.toLowerCase()
    if (h === "::1") return 2
    if (h === "::" || h.includes("%") || h.startsWith("::ffff:")) return undefined
    const first = v6Groups(h)
    if ((first & 0xffc0) === 0xfe80) return undefined // link-local fe80::/10
    if ((first & 0xff00) === 0xff00) return undefined // multicast
    if ((first & 0xfe00) === 0xfc00) return 1 // unique local fc00::/7
    return (first & 0xe000) === 0x2000 ? 0 : 1 // global unicast 2000::/3; anything else: last resort
  }
  if (isIPv4(host)) {
    const [a = 0, b = 0] = host.split(".").map(Number)
    if (a === 127) return 2
    if (a === 0 || a >= 224 || (a === 169 && b === 254)) return undefined
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127))
      return 1
    return 0
  }
  return undefined
}

const isWildcard = (a: Address) => a.host === "::" || a.host === "0.0.0.0"

/** The host's addresses of one family, best first, each with its scope. */
const hostAddresses = (table: InterfaceTable, family: 4 | 6) => {
  const out: Array<{ readonly host: string; readonly scope: 0 | 1 | 2 }> = []
  for (const list of Object.values(table))
    for (const i of list ?? []) {
      if (familyOf(i) !== family) continue
      const scope = scopeOf(i.address)
      if (scope !== undefined) out.push({ host: i.address, scope })
    }
  return out.sort((x, y) => x.scope - y.scope)
}

/**
 * The addresses to register for `listening` (the bound listeners, real ports) on a host with
 * interfaces `table`: IPv6 first, each once, at most `MAX_ADDRESSES_PER_DEVICE`.
 */
export const advertisedAddresses = (
  listening: ReadonlyArray<Address>,
  table: InterfaceTable
): ReadonlyArray<Address> => {
  const reachable: Array<Address> = []
  const loopback: Array<Address> = []
  for (const listener of listening) {
    if (!isWildcard(listener)) {
      ;(scopeOf(listener.host) === 2 ? loopback : reachable).push(listener)
      continue
    }
    for (const { host, scope } of hostAddresses(table, listener.host === "::" ? 6 : 4))
      (scope === 2 ? loopback : reachable).push(makeAddress(host, listener.port))
  }
  const chosen = reachable.length > 0 ? reachable : loopback
  const seen = new Set<string>()
  const unique = chosen.filter((a) => {
    const key = formatAddress(a)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const v6 = unique.filter((a) => a.host.includes(":"))
  const v4 = unique.filter((a) => !a.host.includes(":"))
  const rank = (a: Address) => scopeOf(a.host) ?? 3
  // Over the cap, IPv4 keeps at least two places (a host with many IPv6 addresses stays reachable over IPv4).
  const v4Kept = Math.min(v4.length, Math.max(MAX_ADDRESSES_PER_DEVICE - v6.length, 2))
  return [
    ...v6.sort((x, y) => rank(x) - rank(y)).slice(0, MAX_ADDRESSES_PER_DEVICE - v4Kept),
    ...v4.sort((x, y) => rank(x) - rank(y)).slice(0, v4Kept)
  ]
}

/** A stable key of an address list (order kept: it is the order peers try them). */
export const addressesKey = (addresses: ReadonlyArray<Address>): string => addresses.map(formatAddress).join(" ")
