/**
 * The agent's CertVerifier across domains (PROTOCOL.md §22.3.2, §22.4.1), without a network: the anchor is
 * chosen by the handle's domain (the handle dialed, or the leaf's when accepting), never by trying every
 * known root; our own domain goes to the verifier of `ca.pem` untouched; a root that cannot be had refuses
 * the chain as UnknownIssuer (alert unknown_ca) with the reason.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { DomainName } from "../../../src/domain/agent/domainRoots.js"
import { federatedVerifier, foreignDomainOf } from "../../../src/layers/agent/irp/federatedVerifier.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import { DomainRootError, type DomainRootsService } from "../../../src/services/DomainRoots.js"
import * as TestPki from "../../../src/testing/pki.js"

const pkis = Effect.gen(function* () {
  const example = yield* TestPki.make({ domain: "example.org" })
  const other = yield* TestPki.make({ domain: "other.net" })
  const forged = yield* TestPki.make({ domain: "other.net" })
  return {
    example,
    other,
    forged,
    alice: yield* example.identity("alice@example.org"),
    carol: yield* other.identity("carol@other.net"),
    fakeCarol: yield* forged.identity("carol@other.net")
  }
}).pipe(Effect.provide(EntropyLive.layer))

/** DomainRoots that knows other.net's root only, and counts what it was asked. */
const rootsOf = (known: ReadonlyMap<string, Uint8Array>) => {
  const asked: Array<string> = []
  const roots: DomainRootsService = {
    pinned: () => Effect.succeed(undefined),
    observe: () => Effect.die("not used"),
    rootFor: (domain) =>
      Effect.suspend(() => {
        asked.push(domain)
        const root = known.get(domain)
        return root === undefined
          ? Effect.fail(
              new DomainRootError({
                reason: "Refused",
                message: `${domain} does not accept federation from example.org.`
              })
            )
          : Effect.succeed(root)
      }),
    refresh: () => Effect.succeed(undefined),
    report: () => Effect.die("not used"),
    trust: () => Effect.die("not used")
  }
  return { roots, asked }
}

describe("the federated CertVerifier", () => {
  it.effect("chooses the anchor by the handle's domain", () =>
    Effect.gen(function* () {
      const { example, other, alice, carol, fakeCarol } = yield* pkis
      const own = yield* CertVerifierLive.make({ anchors: [example.rootCertificate] })
      const { roots, asked } = rootsOf(new Map([["other.net", other.rootCertificate]]))
      const verifier = federatedVerifier(own, { ownDomain: "example.org", roots })

      // Our own domain: ca.pem, DomainRoots never asked.
      const a = yield* verifier.verify({ chain: alice.chain, purpose: "client-auth", expectedHandle: alice.handle })
      expect(a.handle).toBe(alice.handle)
      expect(asked).toEqual([])
      // Dialing carol@other.net: other.net's root.
      const c = yield* verifier.verify({ chain: carol.chain, purpose: "client-auth", expectedHandle: carol.handle })
      expect(c.handle).toBe(carol.handle)
      expect(Buffer.from(c.path[c.path.length - 1]!).equals(Buffer.from(other.rootCertificate))).toBe(true)
      // Accepting: the leaf names carol@other.net, so other.net's root again.
      expect((yield* verifier.verify({ chain: carol.chain, purpose: "client-auth" })).handle).toBe(carol.handle)
      expect(asked).toEqual(["other.net", "other.net"])
      // A third CA claiming other.net: refused, never tried against any other root.
      const forged = yield* Effect.flip(verifier.verify({ chain: fakeCarol.chain, purpose: "client-auth" }))
      expect(forged.reason).toBe("UnknownIssuer")
      // carol's chain does not pass as someone of example.org.
      const wrong = yield* Effect.flip(
        verifier.verify({ chain: carol.chain, purpose: "client-auth", expectedHandle: alice.handle })
      )
      expect(wrong.reason).toBe("UnknownIssuer")
    })
  )

  it.effect("a domain whose root cannot be had: UnknownIssuer, saying why", () =>
    Effect.gen(function* () {
      const { example, carol } = yield* pkis
      const own = yield* CertVerifierLive.make({ anchors: [example.rootCertificate] })
      const { roots } = rootsOf(new Map())
      const verifier = federatedVerifier(own, { ownDomain: "example.org", roots })
      const refused = yield* Effect.flip(verifier.verify({ chain: carol.chain, purpose: "client-auth" }))
      expect(refused.reason).toBe("UnknownIssuer")
      expect(refused.message).toBe(
        "The CA of other.net is not available to check this certificate: other.net does not accept federation from example.org."
      )
    })
  )

  it.effect("the domain of a request: the expected handle's, else the leaf's; a server name is ours", () =>
    Effect.gen(function* () {
      const { alice, carol } = yield* pkis
      expect(foreignDomainOf({ chain: carol.chain, purpose: "client-auth" }, "example.org")).toBe(
        "other.net" as DomainName
      )
      expect(foreignDomainOf({ chain: alice.chain, purpose: "client-auth" }, "example.org")).toBeUndefined()
      expect(
        foreignDomainOf({ chain: carol.chain, purpose: "client-auth", expectedHandle: alice.handle }, "example.org")
      ).toBeUndefined()
      expect(
        foreignDomainOf(
          { chain: carol.chain, purpose: "server-auth", expectedDnsName: "irp.example.org" },
          "example.org"
        )
      ).toBeUndefined()
      expect(
        foreignDomainOf({ chain: [new Uint8Array([1, 2, 3])], purpose: "client-auth" }, "example.org")
      ).toBeUndefined()
    })
  )
})
