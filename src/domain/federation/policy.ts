/**
 * A domain's federation policy as `irp.json` carries it (PROTOCOL.md §22.5): whether its IRP federates
 * with every domain (`open`), with the listed ones (`allow`), or with none (`closed`, the default, as a
 * mail server is not an open relay by default). Pure.
 */
import { Schema } from "effect"
import { normalizeDomain } from "./discovery.js"

/** At most this many domains in an allow-list. */
export const MAX_FEDERATION_DOMAINS = 256

export const FederationMode = Schema.Literal("open", "allow", "closed").annotations({
  message: () => ({ message: 'the federation mode is "open", "allow" or "closed"', override: true })
})
export type FederationMode = typeof FederationMode.Type

/** A domain name as §21.1 defines it, written as `normalizeDomain` gives it (lower case, no final dot). */
export const FederationDomain = Schema.String.pipe(
  Schema.filter(
    (s) =>
      normalizeDomain(s) === s ||
      `"${s}" is not a domain name as federation lists them: lower case, at least two labels, no final dot (other.net)`
  )
)

export const FederationPolicy = Schema.Struct({
  mode: Schema.optionalWith(FederationMode, { default: () => "closed" as const, exact: true }),
  /** Meaningful only with `allow`: the domains this IRP federates with. Ignored by the other modes. */
  domains: Schema.optionalWith(
    Schema.Array(FederationDomain).pipe(
      Schema.maxItems(MAX_FEDERATION_DOMAINS, {
        message: () => `at most ${MAX_FEDERATION_DOMAINS} federation domains`
      }),
      Schema.filter((ds) => {
        const twice = ds.find((d, i) => ds.indexOf(d) !== i)
        return twice === undefined || `${twice} is listed twice`
      })
    ),
    { default: () => [], exact: true }
  )
})
export type FederationPolicy = typeof FederationPolicy.Type

/** What an irp.json without the field means. */
export const defaultFederationPolicy: FederationPolicy = { mode: "closed", domains: [] }

/**
 * Whether `policy` lets this IRP federate with `domain` (§22.5), both ways: relaying its users' requests
 * there, and answering that domain's IRP. `domain` as `normalizeDomain` gives it.
 */
export const permits = (policy: FederationPolicy, domain: string): boolean =>
  policy.mode === "open" || (policy.mode === "allow" && policy.domains.includes(domain))
