/**
 * The outbound side of a domain's federation policy (PROTOCOL.md §22.5): to which foreign domains its
 * IRP relays its users' requests. Pure.
 */
import { normalizeDomain } from "./discovery.js"
import type { FederationPolicy } from "./policy.js"

/**
 * Why `ours` must not relay to `domain` (one sentence, fit for the User Agent), or `undefined` when it may.
 * `domain` is normalised (§21.1).
 */
export const outboundRefusal = (ours: string, policy: FederationPolicy, domain: string): string | undefined => {
  if (domain === ours) return `${domain} is this IRP's own domain: it is answered here, not relayed`
  switch (policy.mode) {
    case "open":
      return undefined
    case "allow":
      return policy.domains.includes(domain) ? undefined : `${ours} does not federate with ${domain}`
    case "closed":
      return `${ours} does not federate`
  }
}

/** The domain of a handle (`carol@other.net` → `other.net`), normalised; `undefined` when it names none. */
export const domainOfHandle = (handle: string): string | undefined => {
  const at = handle.lastIndexOf("@")
  return at < 0 ? undefined : normalizeDomain(handle.slice(at + 1))
}
