/**
 * The RFC 5280 section 4 decisions of PROTOCOL.md §13.7, through CertVerifierLive (the validator
 * the handshake and `sixchat cert verify` share), on certificates made by the openssl CLI: each
 * refused case with the reason and depth, and its accepted neighbour.
 */
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import { conformanceError } from "../../src/domain/cert/conformance.js"
import { MAX_CERTIFICATE_BYTES, parseCertificate } from "../../src/domain/cert/parse.js"
import { describe as describeCert } from "../../src/domain/cert/validate.js"
import type { CertError, CertRejection, VerifiedCertificate, VerifyRequest } from "../../src/domain/cert/verify.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import type { CertVerifierService } from "../../src/services/CertVerifier.js"
import { type Cert, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"
import { makeRfc5280Pki, type Rfc5280Pki } from "./rfc5280Fixtures.js"

let ws: OpensslWorkspace
let pki: Rfc5280Pki
let verifier: CertVerifierService

beforeAll(async () => {
  ws = await makeWorkspace()
  pki = await makeRfc5280Pki(ws)
  const anchors = [
    pki.root,
    pki.expiredRoot,
    pki.futureRoot,
    pki.rootNoAki,
    pki.crossRootNoAki,
    pki.rootNoSki,
    pki.rootUnknownCritical,
    pki.rootBcNonCritical
  ]
  verifier = Effect.runSync(CertVerifierLive.make({ anchors: anchors.map((c) => c.der) }))
}, 180_000)
afterAll(() => ws?.cleanup())

const run = (chain: ReadonlyArray<Cert>, extra: Partial<VerifyRequest> = {}) =>
  Effect.runSync(
    Effect.either(verifier.verify({ chain: chain.map((c) => c.der), purpose: "client-auth", at: new Date(), ...extra }))
  )

const accepts = (chain: ReadonlyArray<Cert>, extra: Partial<VerifyRequest> = {}): VerifiedCertificate => {
  const r = run(chain, extra)
  if (Either.isLeft(r)) throw new Error(`expected acceptance, got ${r.left.reason}: ${r.left.message}`)
  return r.right
}

const rejects = (
  reason: CertRejection,
  depth: number | undefined,
  chain: ReadonlyArray<Cert>,
  extra: Partial<VerifyRequest> = {}
): CertError => {
  const r = run(chain, extra)
  if (Either.isRight(r)) throw new Error(`expected ${reason}, but the chain was accepted`)
  expect(r.left.reason, r.left.message).toBe(reason)
  expect(r.left.depth, r.left.message).toBe(depth)
  expect(r.left.message).toMatch(/\.$/)
  expect(r.left.message).not.toContain("\n")
  return r.left
}

describe("baseline", () => {
  it("root -> intermediate -> leaf, all conforming, is accepted", () => {
    expect(accepts([pki.leaf, pki.int], { expectedHandle: "alice@example.org" as Handle }).handle).toBe(
      "alice@example.org"
    )
  })
})

describe("the trust anchor is held to the rules too", () => {
  it("an expired anchor is refused (Expired), a not-yet-valid one too (NotYetValid)", () => {
    expect(rejects("Expired", 1, [pki.leafUnderExpiredRoot]).message).toContain("Expired Root")
    rejects("NotYetValid", 1, [pki.leafUnderFutureRoot])
  })

  it("an unknown critical extension in the anchor is refused", () => {
    expect(rejects("UnknownCriticalExtension", 1, [pki.leafUnderRootUnknownCritical]).message).toContain(
      "1.3.6.1.4.1.99999.1"
    )
  })

  it("an anchor whose basicConstraints is not critical is refused", () => {
    expect(rejects("NonConforming", 1, [pki.leafUnderRootBcNonCritical]).message).toContain("basicConstraints")
  })
})

describe("key identifiers (RFC 5280 4.2.1.1, 4.2.1.2)", () => {
  it("a leaf or an intermediate without authorityKeyIdentifier is refused", () => {
    expect(rejects("NonConforming", 0, [pki.leafNoAki, pki.int]).message).toContain("authorityKeyIdentifier")
    expect(rejects("NonConforming", 1, [pki.leafUnderIntNoAki, pki.intNoAki]).message).toContain(
      "authorityKeyIdentifier"
    )
  })

  it("a self-signed anchor may omit it; an anchor that is not self-signed may not", () => {
    const root = parseCertificate(pki.rootNoAki.der)
    if (root._tag !== "Parsed") throw new Error("the root does not parse")
    expect(root.certificate.extensions.critical.has("2.5.29.35")).toBe(false)
    accepts([pki.leafUnderRootNoAki])
    expect(rejects("NonConforming", 1, [pki.leafUnderCrossRootNoAki]).message).toContain("authorityKeyIdentifier")
  })

  it("a critical authorityKeyIdentifier is refused", () => {
    expect(rejects("NonConforming", 0, [pki.leafCriticalAki, pki.int]).message).toContain("critical")
  })

  it("a CA certificate without subjectKeyIdentifier is refused, intermediate or anchor", () => {
    expect(rejects("NonConforming", 1, [pki.leafUnderIntNoSki, pki.intNoSki]).message).toContain("subjectKeyIdentifier")
    expect(rejects("NonConforming", 1, [pki.leafUnderRootNoSki]).message).toContain("subjectKeyIdentifier")
  })
})

describe("name constraints (RFC 5280 4.2.1.10)", () => {
  it("nameConstraints in an end-entity certificate are refused", () => {
    expect(rejects("NonConforming", 0, [pki.leafWithNc, pki.int]).message).toContain("nameConstraints")
  })

  it("non-critical nameConstraints are refused; critical ones are honoured", () => {
    expect(rejects("NonConforming", 1, [pki.leafUnderNcNonCritical, pki.intNcNonCritical]).message).toContain(
      "not marked critical"
    )
    accepts([pki.serverUnderNcDns, pki.intNcDns], { purpose: "server-auth", expectedDnsName: "www.example.org" })
  })

  it("a dNSName constraint with a leading period is refused as an invalid name", () => {
    const e = rejects("InvalidName", 1, [pki.serverUnderNcLeadingDot, pki.intNcLeadingDot], { purpose: "server-auth" })
    expect(e.message).toContain(".example.org")
  })

  it("an rfc822Name SAN that is not a mailbox is refused, with or without a constraint on it", () => {
    expect(rejects("InvalidName", 0, [pki.leafBadEmail, pki.int]).message).toContain("not-a-mailbox")
    rejects("InvalidName", 0, [pki.leafBadEmailUnderNc, pki.intNcEmail])
    accepts([pki.leafOkUnderNcEmail, pki.intNcEmail])
  })
})

describe("serial numbers (RFC 5280 4.1.2.2)", () => {
  it("zero, negative and 21-octet serials are refused; 20 octets are accepted", () => {
    expect(rejects("NonConforming", 0, [pki.serialZero, pki.int]).message).toContain("zero or negative")
    expect(rejects("NonConforming", 0, [pki.serialNegative, pki.int]).message).toContain("zero or negative")
    expect(rejects("NonConforming", 0, [pki.serial21, pki.int]).message).toContain("21 octets")
    expect(accepts([pki.serial20, pki.int]).serial).toBe(`7f${"ab".repeat(19)}`)
  })
})

describe("empty names (RFC 5280 4.1.2.4, 4.1.2.6, 4.2.1.6)", () => {
  it("a CA with an empty subject is refused", () => {
    // The leaf below it has an empty issuer, which is checked first (leaf first).
    expect(rejects("NonConforming", 0, [pki.leafUnderEmptySubject, pki.intEmptySubject]).message).toContain(
      "empty issuer"
    )
    const parsed = parseCertificate(pki.intEmptySubject.der)
    if (parsed._tag !== "Parsed") throw new Error("the empty-subject CA does not parse")
    const e = conformanceError(parsed.certificate, 1, 2, describeCert)
    expect(e?.reason).toBe("NonConforming")
    expect(e?.message).toContain("CA certificate with an empty subject")
  })

  it("an empty subject needs a critical SAN: non-critical is refused, critical accepted", () => {
    expect(rejects("NonConforming", 0, [pki.leafEmptySubjectNonCriticalSan, pki.int]).message).toContain(
      "non-critical subjectAltName"
    )
    const v = accepts([pki.leafEmptySubjectCriticalSan, pki.int], { expectedHandle: "alice@example.org" as Handle })
    expect(v.handle).toBe("alice@example.org")
  })
})

describe("extensions that must be critical, and keyCertSign", () => {
  it("non-critical policyConstraints are refused; critical ones are unknown critical (not processed)", () => {
    expect(rejects("NonConforming", 1, [pki.leafUnderPcNonCritical, pki.intPcNonCritical]).message).toContain(
      "policyConstraints"
    )
    rejects("UnknownCriticalExtension", 1, [pki.leafUnderPcCritical, pki.intPcCritical])
  })

  it("a leaf asserting keyCertSign is refused", () => {
    expect(rejects("NonConforming", 0, [pki.leafKeyCertSign, pki.int]).message).toContain("keyCertSign")
  })
})

describe("authorityInfoAccess (RFC 5280 4.2.2.1)", () => {
  it("a malformed AIA makes the certificate malformed; a well-formed one is accepted", () => {
    expect(rejects("Malformed", 0, [pki.leafBadAia, pki.int]).message).toContain("not a well-formed")
    accepts([pki.leafGoodAia, pki.int])
  })
})

describe("purpose", () => {
  it("--purpose any does not demand digitalSignature; the handshake purposes do", () => {
    rejects("MissingDigitalSignature", 0, [pki.leafNoDigitalSignature, pki.int])
    rejects("MissingDigitalSignature", 0, [pki.leafNoDigitalSignature, pki.int], { purpose: "server-auth" })
    accepts([pki.leafNoDigitalSignature, pki.int], { purpose: "any" })
  })
})

describe("resource limits", () => {
  it("a certificate over the size limit is refused unread (LimitExceeded)", () => {
    expect(pki.bigLeaf.der.length).toBeGreaterThan(MAX_CERTIFICATE_BYTES)
    expect(parseCertificate(pki.bigLeaf.der)).toEqual({ _tag: "TooLarge", size: pki.bigLeaf.der.length })
    expect(rejects("LimitExceeded", 0, [pki.bigLeaf, pki.int], { purpose: "server-auth" }).message).toContain(
      `${pki.bigLeaf.der.length} bytes`
    )
    rejects("LimitExceeded", undefined, [pki.leaf, pki.bigRoot])
  })

  it("a trust anchor over the size limit cannot be configured (LimitExceeded, not Malformed)", () => {
    expect(pki.bigRoot.der.length).toBeGreaterThan(MAX_CERTIFICATE_BYTES)
    const r = Effect.runSync(Effect.either(CertVerifierLive.make({ anchors: [pki.root.der, pki.bigRoot.der] })))
    if (Either.isRight(r)) throw new Error("an oversized anchor was accepted")
    expect(r.left.reason).toBe("LimitExceeded")
    expect(r.left.message).toContain("Trust anchor 2")
  })

  it("name constraints: 100 names x 1,000 constraints is over the budget, 10 x 1,000 is not", () => {
    expect(pki.intManyNc.der.length).toBeLessThan(MAX_CERTIFICATE_BYTES)
    const e = rejects("LimitExceeded", 0, [pki.serverManyNames, pki.intManyNc], { purpose: "server-auth" })
    expect(e.message).toContain("65536")
    accepts([pki.serverFewNames, pki.intManyNc], { purpose: "server-auth", expectedDnsName: "d9.e" })
  })
})
