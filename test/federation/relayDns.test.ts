/**
 * The relay with real discovery (PROTOCOL.md §21, §22.2.2): dnsmasq on loopback publishes other.test's
 * SRV records, the first target (priority 10) is dead, the second (priority 20) is the foreign IRP. The
 * relay tries them in order and authenticates the server as `irp.other.test`, whatever the SRV targets
 * (`irp1.` / `irp2.other.test`) are called.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Layer, type Scope } from "effect"
import * as DnsResolverLive from "../../src/layers/federation/DnsResolverLive.js"
import * as FederationLive from "../../src/layers/federation/FederationLive.js"
import { DomainResolver } from "../../src/services/DomainResolver.js"
import * as TestPki from "../../src/testing/pki.js"
import { DNSMASQ, requireDnsmasqTest, startDnsmasq } from "../support/dnsmasq.js"
import { baseLayer, deadAddress, handleOf, makePublicCa, OURS, open, startFakeIrp } from "./relaySupport.js"

requireDnsmasqTest()

const live = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope | Layer.Layer.Success<typeof baseLayer>>
) => it.scopedLive(name, () => Effect.provide(body(), baseLayer))

describe.skipIf(DNSMASQ === undefined)("Federation relay with DNS discovery (dnsmasq)", () => {
  live("tries the SRV targets in order and verifies the server as irp.other.test", () =>
    Effect.gen(function* () {
      const ca = yield* makePublicCa([`irp.${OURS}`, "irp.other.test"])
      const pki = yield* TestPki.make({ domain: "other.test" })
      const carol = yield* pki.identity("carol@other.test")
      const fake = yield* startFakeIrp({
        pki,
        publicChain: yield* ca.server("irp.other.test"),
        users: new Map([["carol@other.test", carol.chain]]),
        callerAnchors: [ca.root]
      })
      const dead = yield* deadAddress
      const dns = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startDnsmasq([
            `--srv-host=_sixchat-irp._tcp.other.test,irp1.other.test,${dead.port},10,0`,
            `--srv-host=_sixchat-irp._tcp.other.test,irp2.other.test,${fake.address.port},20,0`,
            "--host-record=irp1.other.test,127.0.0.1,60",
            "--host-record=irp2.other.test,127.0.0.1,60"
          ])
        ),
        (d) => Effect.promise(() => d.stop())
      )
      const resolver = yield* DnsResolverLive.make({ server: dns.server })
      const fed = yield* FederationLive.make({
        domain: OURS,
        policy: open,
        identity: yield* ca.server(`irp.${OURS}`),
        anchors: [ca.root]
      }).pipe(Effect.provideService(DomainResolver, resolver))
      const record = yield* fed.lookup(handleOf("carol@other.test"))
      expect(record.chain).toEqual(carol.chain)
      expect(record.domainRoot?.root).toEqual(pki.rootCertificate)
      expect(fake.accepts()).toBe(1)
      expect(dns.queries("SRV", "_sixchat-irp._tcp.other.test")).toBe(1)
    })
  )
})
