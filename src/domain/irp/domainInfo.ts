/**
 * `<DomainInfo>` and its answer (PROTOCOL.md §22.3.1): who this IRP is the IRP of, its federation
 * policy (§22.5) and the users' CA of its domain (the root, `ca.pem`). Anyone may ask. Pure.
 */
import { Schema } from "effect"
import { Id } from "../brands.js"
import { FederationMode } from "../federation/policy.js"
import { isDomainName } from "../pki/profile.js"
import { Der } from "./der.js"

/** A domain as the IRP names itself: a lower-case DNS name (what `irp.json`'s `domain` holds). */
export const WireDomain = Schema.String.pipe(
  Schema.filter((s) => isDomainName(s) || "a lower-case DNS name such as example.org")
)

/**
 * Anyone: who are you, and which CA vouches for your users? With `domain` (another domain than the
 * server's, PROTOCOL.md §22.4): the home IRP relays the question to that domain's IRP.
 */
export const DomainInfo = Schema.TaggedStruct("irp.DomainInfo", { id: Id, domain: Schema.optional(WireDomain) })
export type DomainInfo = typeof DomainInfo.Type

/** `DomainInfo`: the server's domain, its federation mode and the domain's root certificate (DER). */
export const DomainInfoResult = Schema.TaggedStruct("irp.DomainInfoResult", {
  id: Id,
  domain: WireDomain,
  policy: FederationMode,
  root: Der
})
export type DomainInfoResult = typeof DomainInfoResult.Type
