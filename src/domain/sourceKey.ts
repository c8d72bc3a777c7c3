/**
 * Who a connection or an anonymous request comes from, for per-source limits (IRP rate limits,
 * PROTOCOL.md §17.11; connection admission, §17.1.7 and §15): the IPv4 address itself, or the /64
 * prefix of an IPv6 address (one subscriber usually holds a whole /64, so per-address limits would be
 * no limit at all). Pure: text in, key out.
 */

const HEX_GROUP = /^[0-9a-f]{1,4}$/

/** The eight 16-bit groups of an IPv6 literal (lower case, no zone, no brackets), or `undefined`. */
export const ipv6Groups = (text: string): ReadonlyArray<number> | undefined => {
  let s = text
  const tail: Array<number> = []
  const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (dotted !== null) {
    const b = dotted.slice(2, 6).map(Number) as [number, number, number, number]
    if (b.some((x) => x > 255)) return undefined
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3])
    s = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1)
  }
  const halves = s.split("::")
  if (halves.length > 2) return undefined
  const parse = (part: string): Array<number> | undefined => {
    if (part === "") return []
    const groups = part.split(":")
    return groups.every((g) => HEX_GROUP.test(g)) ? groups.map((g) => parseInt(g, 16)) : undefined
  }
  const head = parse(halves[0]!)
  const rest = halves.length === 2 ? parse(halves[1]!) : []
  if (head === undefined || rest === undefined) return undefined
  const missing = 8 - head.length - rest.length - tail.length
  if (halves.length === 1) return missing === 0 ? [...head, ...tail] : undefined
  return missing >= 0 ? [...head, ...new Array<number>(missing).fill(0), ...rest, ...tail] : undefined
}

/**
 * The rate-limit key of an anonymous source: the IPv4 address itself, or the /64 prefix of an IPv6
 * address (one subscriber usually holds a whole /64, so per-address buckets would be no limit at all).
 * IPv4-mapped IPv6 addresses count as their IPv4 address; zones are ignored.
 */
export const sourceKey = (host: string): string => {
  const h = host
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "")
    .toLowerCase()
  if (!h.includes(":")) return `ip4:${h}`
  const groups = ipv6Groups(h)
  if (groups === undefined) return `host:${h}`
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `ip4:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`
  return `ip6:${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`
}
