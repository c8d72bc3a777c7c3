/**
 * DomainResolver: where is the IRP of a domain? (PROTOCOL.md §21.) The port behind federation's
 * first step: SRV `_sixchat-irp._tcp.D`, else `irp.D` port 4604, each target's AAAA then A, cached.
 * Implemented over DNS by `layers/federation/DnsResolverLive`; tests point it at a loopback DNS server.
 */
import { Context, type Effect } from "effect"
import type { Discovery, DiscoveryError } from "../domain/federation/discovery.js"

export interface DomainResolverService {
  /**
   * The IRP targets of `domain` in the order to try them. Answers come from the cache while their TTL
   * lasts (`cached: true`); every DNS read is bounded in time and size (§21.5).
   */
  readonly discover: (domain: string) => Effect.Effect<Discovery & { readonly cached: boolean }, DiscoveryError>
}

export class DomainResolver extends Context.Tag("sixchat/DomainResolver")<DomainResolver, DomainResolverService>() {}
