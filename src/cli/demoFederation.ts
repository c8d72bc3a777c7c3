/**
 * What the demo needs to show two domains federating on one machine (issue 14, PROTOCOL.md §22) without
 * the Internet: a stand-in for the Web PKI (one small CA per IRP name, made here, trusted as the only
 * public anchors) and a stand-in for DNS (each domain's IRP at the loopback address the demo started it
 * on, §21's answer shape). Everything else is the real thing: `IrpServerLive` with its public chain and
 * `FederationLive` relaying between the two IRPs over TCP.
 */
import { Effect, Layer } from "effect"
import type { Address } from "../domain/brands.js"
import { type Discovery, DiscoveryError } from "../domain/federation/discovery.js"
import type { FederationPolicy } from "../domain/federation/policy.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import type { LoadedDomain, PublicIdentity } from "../layers/ca/DomainDirectory.js"
import * as FederationLive from "../layers/federation/FederationLive.js"
import { DomainResolver } from "../services/DomainResolver.js"
import * as TestPki from "../testing/pki.js"

export interface DemoWeb {
  /** The public certificate of each domain's IRP, for `irp.<domain>`. */
  readonly publicIdentity: (domain: string) => PublicIdentity
  /** The "public" roots: what `SIXCHAT_EXTRA_ROOTS` would add in a private test federation. */
  readonly anchors: ReadonlyArray<Uint8Array>
  /** Where each domain's IRP listens (the demo's DNS). */
  readonly at: Map<string, Address>
  readonly resolver: Layer.Layer<DomainResolver>
}

export const OPEN: FederationPolicy = { mode: "open", domains: [] }

export const makeDemoWeb = (domains: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const identities = new Map<string, PublicIdentity>()
    const anchors: Array<Uint8Array> = []
    for (const domain of domains) {
      const ca = yield* TestPki.make({ domain })
      identities.set(domain, yield* ca.server())
      anchors.push(ca.rootCertificate)
    }
    const at = new Map<string, Address>()
    const resolver = Layer.succeed(DomainResolver, {
      discover: (domain: string) =>
        Effect.suspend(() => {
          const address = at.get(domain)
          if (address === undefined)
            return Effect.fail(new DiscoveryError({ reason: "NotFound", domain, message: `${domain} has no IRP here` }))
          const discovery: Discovery = {
            domain,
            source: "srv",
            ttl: 60,
            targets: [
              {
                target: `irp.${domain}`,
                port: address.port,
                priority: 0,
                weight: 0,
                addresses: [address.host],
                ttl: 60
              }
            ]
          }
          return Effect.succeed({ ...discovery, cached: false })
        })
    })
    const web: DemoWeb = {
      publicIdentity: (domain) => identities.get(domain)!,
      anchors,
      at,
      resolver
    }
    return web
  })

/** `domain` as `irp serve` would load it with a public chain and an open policy. */
export const federating = (domain: LoadedDomain, web: DemoWeb): LoadedDomain => ({
  ...domain,
  config: { ...domain.config, federation: OPEN },
  publicIdentity: web.publicIdentity(domain.config.domain)
})

/** What `IrpServerLive.make` needs to federate: the public anchors' verifier and the relay. */
export const federationFor = (domain: LoadedDomain, web: DemoWeb) =>
  Effect.gen(function* () {
    const publicVerifier = yield* CertVerifierLive.make({ anchors: web.anchors })
    const relay = yield* FederationLive.make({
      domain: domain.config.domain,
      policy: OPEN,
      identity: web.publicIdentity(domain.config.domain),
      anchors: web.anchors
    }).pipe(Effect.provide(web.resolver))
    return { publicVerifier, relay }
  })
