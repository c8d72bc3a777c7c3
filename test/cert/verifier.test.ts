/**
 * CertVerifierLive against chains made by the openssl CLI (PROTOCOL.md §13): each acceptance and
 * each rejection reason.
 */
import { createHash, X509Certificate } from "node:crypto"
import { it as effectIt } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import { certificateIdentity } from "../../src/domain/cert/identity.js"
import { parseCertificate } from "../../src/domain/cert/parse.js"
import type {
  CertError,
  CertRejection,
  RevocationSource,
  VerifiedCertificate,
  VerifyRequest
} from "../../src/domain/cert/verify.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import type { CertVerifierService } from "../../src/services/CertVerifier.js"
import { type Cert, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"
import { makePki, type Pki } from "./fixtures.js"

let ws: OpensslWorkspace
let pki: Pki
let verifier: CertVerifierService

const makeVerifier = (anchors: ReadonlyArray<Cert>, revocation?: RevocationSource): CertVerifierService =>
  Effect.runSync(CertVerifierLive.make({ anchors: anchors.map((c) => c.der), revocation }))

beforeAll(async () => {
  ws = await makeWorkspace()
  pki = await makePki(ws)
  verifier = makeVerifier([pki.ecRoot, pki.rsa4096Root, pki.rsa2048Root, pki.edRoot, pki.p521Root, pki.rsa1024Root])
}, 120_000)
afterAll(() => ws?.cleanup())

type Chain = ReadonlyArray<Cert | Uint8Array>
const ders = (chain: Chain) => chain.map((c) => (c instanceof Uint8Array ? c : c.der))

const run = (chain: Chain, extra: Partial<VerifyRequest> = {}, v = verifier) =>
  Effect.runSync(Effect.either(v.verify({ chain: ders(chain), purpose: "client-auth", at: new Date(), ...extra })))

const accepts = (chain: Chain, extra: Partial<VerifyRequest> = {}, v = verifier): VerifiedCertificate => {
  const r = run(chain, extra, v)
  if (Either.isLeft(r)) throw new Error(`expected acceptance, got ${r.left.reason}: ${r.left.message}`)
  return r.right
}

const rejects = (reason: CertRejection, chain: Chain, extra: Partial<VerifyRequest> = {}, v = verifier): CertError => {
  const r = run(chain, extra, v)
  if (Either.isRight(r)) throw new Error(`expected ${reason}, but the chain was accepted`)
  expect(r.left.reason, r.left.message).toBe(reason)
  expect(r.left.message).toMatch(/\.$/)
  return r.left
}

describe("accepted chains", () => {
  it("P-256 root -> P-384 intermediate -> P-256 leaf (sha384), with its identity", () => {
    const v = accepts([pki.alice, pki.ecInt], { expectedHandle: "alice@example.org" as Handle })
    const x = new X509Certificate(pki.alice.pem)
    const spki = x.publicKey.export({ type: "spki", format: "der" })
    expect(v.handle).toBe("alice@example.org")
    expect(v.fingerprint).toBe(createHash("sha256").update(spki).digest("hex"))
    expect(Buffer.from(v.spki).equals(spki)).toBe(true)
    expect(v.serial).toBe(x.serialNumber.toLowerCase().replace(/^0+/, ""))
    expect(v.notAfter.getTime()).toBe(new Date(x.validTo).getTime())
    expect(v.path.map((d) => Buffer.from(d).toString("hex"))).toEqual(
      [pki.alice, pki.ecInt, pki.ecRoot].map((c) => Buffer.from(c.der).toString("hex"))
    )
    expect(v.dnsNames).toEqual([])
  })

  it("RSA-4096 root -> RSA-2048 intermediate -> P-256 leaf, all signed with RSA-PSS", () => {
    expect(accepts([pki.rsaPssLeaf, pki.rsaPssInt]).handle).toBe("pss@example.org")
    expect(accepts([pki.leafUnderPssKey, pki.pssKeyInt]).handle).toBe("psskey@example.org")
  })

  it("RSA-2048 root -> P-256 intermediate -> Ed25519 leaf", () => {
    expect(accepts([pki.ed25519Leaf, pki.p256UnderRsa]).handle).toBe("ed@example.org")
  })

  it("an Ed25519 root signing a P-256 leaf, and a P-521 root signing with sha512", () => {
    accepts([pki.edLeaf])
    expect(accepts([pki.p521Leaf]).handle).toBe("p521@example.org")
  })

  it("intermediates in any order, with unrelated and anchor copies mixed in", () => {
    const v = accepts([pki.leafUnderDeep3, pki.otherInt, pki.deep[0]!, pki.ecRoot, pki.deep[2]!, pki.deep[1]!])
    expect(v.path).toHaveLength(5)
    expect(Buffer.from(v.path[4]!).equals(Buffer.from(pki.ecRoot.der))).toBe(true)
  })

  it("a server certificate for its DNS name, case-insensitively, with purpose server-auth", () => {
    const v = accepts([pki.server, pki.ecInt], { purpose: "server-auth", expectedDnsName: "IRP.Example.ORG" })
    expect(v.dnsNames).toEqual(["irp.example.org"])
    expect(v.handle).toBeUndefined()
  })

  it("the handle comes from the CN when the leaf has no SAN", () => {
    expect(accepts([pki.aliceCnOnly, pki.ecInt], { expectedHandle: "alice@example.org" as Handle }).handle).toBe(
      "alice@example.org"
    )
  })

  it("a leaf without keyUsage or EKU, and one with anyExtendedKeyUsage", () => {
    accepts([pki.noKuLeaf, pki.ecInt])
    accepts([pki.anyEkuLeaf, pki.ecInt])
  })

  it("serials are lower-case hex without leading zeros", () => {
    expect(accepts([pki.serialLeaf, pki.ecInt]).serial).toBe("abc12")
  })
})

describe("rejections", () => {
  it("UnknownIssuer: a chain to an untrusted root, and a root impersonated by name", () => {
    expect(rejects("UnknownIssuer", [pki.otherLeaf, pki.otherInt]).message).toContain("Other Root")
    rejects("UnknownIssuer", [pki.otherLeaf])
    rejects("UnknownIssuer", [pki.impostorLeaf, pki.impostorRoot])
    rejects("UnknownIssuer", [pki.alice]) // intermediate missing
  })

  it("Expired and NotYetValid, for the leaf and for an intermediate", () => {
    const e = rejects("Expired", [pki.expiredLeaf, pki.ecInt])
    expect(e.message).toContain('"CN=alice@example.org"')
    expect(e.depth).toBe(0)
    rejects("NotYetValid", [pki.futureLeaf, pki.ecInt])
    expect(rejects("Expired", [pki.leafUnderExpiredInt, pki.expiredInt]).depth).toBe(1)
    // The check time decides, not the wall clock.
    accepts([pki.futureLeaf, pki.ecInt], { at: new Date(Date.now() + 2 * 86400_000) })
    rejects("Expired", [pki.alice, pki.ecInt], { at: new Date(Date.now() + 400 * 86400_000) })
  })

  it("validity bounds are inclusive at the second and `at` is truncated to the second", () => {
    const end = new Date(new X509Certificate(pki.shortLeaf.pem).validTo).getTime()
    accepts([pki.shortLeaf, pki.ecInt], { at: new Date(end + 999) })
    rejects("Expired", [pki.shortLeaf, pki.ecInt], { at: new Date(end + 1000) })
    const start = new Date(new X509Certificate(pki.futureLeaf.pem).validFrom).getTime()
    accepts([pki.futureLeaf, pki.ecInt], { at: new Date(start) })
    rejects("NotYetValid", [pki.futureLeaf, pki.ecInt], { at: new Date(start - 1) })
  })

  it("WrongPurpose: a serverAuth-only leaf for client-auth, accepted with any", () => {
    expect(rejects("WrongPurpose", [pki.serverOnlyLeaf, pki.ecInt]).message).toContain("clientAuth")
    accepts([pki.serverOnlyLeaf, pki.ecInt], { purpose: "any" })
    rejects("WrongPurpose", [pki.alice, pki.ecInt], { purpose: "server-auth" })
  })

  it("MissingDigitalSignature: a leaf keyUsage without digitalSignature", () => {
    rejects("MissingDigitalSignature", [pki.kuEnciphermentLeaf, pki.ecInt])
  })

  it("NotCA: an issuer with CA:FALSE or without basicConstraints", () => {
    expect(rejects("NotCA", [pki.leafUnderNotCa, pki.notCaInt]).depth).toBe(1)
    rejects("NotCA", [pki.leafUnderNoBc, pki.noBcInt])
  })

  it("MissingKeyCertSign: an issuer whose keyUsage lacks keyCertSign", () => {
    rejects("MissingKeyCertSign", [pki.leafUnderNoCertSign, pki.noCertSignInt])
  })

  it("PathLenExceeded, while a self-issued intermediate is not counted", () => {
    expect(rejects("PathLenExceeded", [pki.leafBelowPathLen0, pki.belowPathLen0, pki.pathLen0]).depth).toBe(2)
    const v = accepts([pki.leafUnderSelfIssued, pki.pathLen0, pki.selfIssued])
    expect(v.path).toHaveLength(4)
  })

  it("ChainTooLong: more intermediates than allowed, self-issued ones not counted", () => {
    const four = [pki.leafUnderDeep4, ...pki.deep]
    rejects("ChainTooLong", four)
    accepts(four, { maxIntermediates: 4 })
    const three = [pki.leafUnderDeep3, ...pki.deep.slice(0, 3)]
    accepts(three)
    rejects("ChainTooLong", three, { maxIntermediates: 2 })
    accepts([pki.leafUnderDeep2SelfIssued, pki.deep2SelfIssued, ...pki.deep.slice(0, 3)])
    rejects("ChainTooLong", [pki.alice, pki.ecInt], { maxIntermediates: 0 })
  })

  it("UnknownCriticalExtension, while the same extension non-critical is fine", () => {
    expect(rejects("UnknownCriticalExtension", [pki.criticalLeaf, pki.ecInt]).message).toContain("1.3.6.1.4.1.99999.1")
    accepts([pki.nonCriticalLeaf, pki.ecInt])
  })

  it("BadSignature: a flipped byte in the signature, and one in the TBS", () => {
    const sig = pki.alice.der.slice()
    sig[sig.length - 1]! ^= 0x01
    rejects("BadSignature", [sig, pki.ecInt])
    const tbs = pki.alice.der.slice()
    const at = Buffer.from(tbs).indexOf("alice@example.org")
    expect(at).toBeGreaterThan(0)
    tbs[at]! ^= 0x02 // 'a' -> 'c': still well-formed
    rejects("BadSignature", [tbs, pki.ecInt])
    const intSig = pki.ecInt.der.slice()
    intSig[intSig.length - 2]! ^= 0x40
    rejects("BadSignature", [pki.alice, intSig])
  })

  it("UnsupportedAlgorithm: a SHA-1 signature, an RSA-1024 issuer", () => {
    rejects("UnsupportedAlgorithm", [pki.sha1Leaf])
    rejects("UnsupportedAlgorithm", [pki.rsa1024Leaf])
  })

  it("NameConstraintViolation: email, CN-as-handle, excluded DNS, directoryName", () => {
    accepts([pki.constrainedOk, pki.constrainedInt])
    expect(rejects("NameConstraintViolation", [pki.constrainedBadEmail, pki.constrainedInt]).message).toContain(
      "bob@other.org"
    )
    rejects("NameConstraintViolation", [pki.constrainedBadCn, pki.constrainedInt])
    rejects("NameConstraintViolation", [pki.constrainedExcludedDns, pki.constrainedInt], { purpose: "any" })
    accepts([pki.dirConstrainedOk, pki.dirConstrainedInt])
    rejects("NameConstraintViolation", [pki.dirConstrainedBad, pki.dirConstrainedInt])
  })

  it("Revoked: the source is asked with the issuer's DER and the serial", () => {
    const asked: Array<[string, string]> = []
    const leafSerial = accepts([pki.alice, pki.ecInt]).serial
    const source: RevocationSource = {
      isRevoked: (issuerDer, serial) => {
        asked.push([Buffer.from(issuerDer).toString("hex"), serial])
        return serial === leafSerial
      }
    }
    const v = makeVerifier([pki.ecRoot], source)
    expect(rejects("Revoked", [pki.alice, pki.ecInt], {}, v).message).toContain(leafSerial)
    expect(asked[0]).toEqual([Buffer.from(pki.ecInt.der).toString("hex"), leafSerial])
    const intSerial = new X509Certificate(pki.ecInt.pem).serialNumber.toLowerCase().replace(/^0+/, "")
    const v2 = makeVerifier([pki.ecRoot], { isRevoked: (_, serial) => serial === intSerial })
    expect(rejects("Revoked", [pki.alice, pki.ecInt], {}, v2).depth).toBe(1)
    accepts([pki.alice, pki.ecInt], {}, makeVerifier([pki.ecRoot], { isRevoked: () => false }))
  })

  it("IdentityMismatch: another handle, another DNS name", () => {
    expect(
      rejects("IdentityMismatch", [pki.alice, pki.ecInt], { expectedHandle: "bob@example.org" as Handle }).message
    ).toContain("bob@example.org")
    rejects("IdentityMismatch", [pki.server, pki.ecInt], {
      purpose: "server-auth",
      expectedDnsName: "evil.example.org"
    })
    rejects("IdentityMismatch", [pki.alice, pki.ecInt], { expectedDnsName: "irp.example.org" })
  })

  it("Malformed: garbage, truncation, trailing bytes, an empty chain, a bad intermediate", () => {
    rejects("Malformed", [new Uint8Array([1, 2, 3])])
    rejects("Malformed", [pki.alice.der.subarray(0, pki.alice.der.length - 1)])
    rejects("Malformed", [new Uint8Array([...pki.alice.der, 0])])
    rejects("Malformed", [])
    rejects("Malformed", [pki.alice, new Uint8Array(0)])
  })
})

describe("the check time", () => {
  effectIt.effect("comes from the Effect Clock when the request has none", () =>
    Effect.gen(function* () {
      const v = yield* CertVerifierLive.make({ anchors: [pki.ecRoot.der] })
      const request = { chain: [pki.alice.der, pki.ecInt.der], purpose: "client-auth" as const }
      yield* TestClock.setTime(Date.now())
      yield* v.verify(request)
      yield* TestClock.adjust("400 days")
      const e = yield* Effect.flip(v.verify(request))
      expect(e.reason).toBe("Expired")
    })
  )
})

describe("the parse cache (issue 15)", () => {
  it("remembers only the parse: buffers reused by the caller, signatures, time and identity still decide", () => {
    const v = Effect.runSync(CertVerifierLive.make({ anchors: [pki.ecRoot.der], signatureCacheSize: 0 }))
    const leaf = pki.alice.der.slice()
    accepts([leaf, pki.ecInt], {}, v)
    // The caller reuses its buffer: the remembered certificate is a private copy.
    leaf.fill(0)
    rejects("Malformed", [leaf, pki.ecInt], {}, v)
    const again = accepts([pki.alice, pki.ecInt], {}, v)
    expect(Buffer.from(again.path[0]!).equals(pki.alice.der)).toBe(true)
    rejects("Expired", [pki.alice, pki.ecInt], { at: new Date(Date.now() + 400 * 86400_000) }, v)
    rejects("IdentityMismatch", [pki.alice, pki.ecInt], { expectedHandle: "bob@example.org" as Handle }, v)
    const forged = pki.alice.der.slice()
    forged[forged.length - 2]! ^= 0x01
    rejects("BadSignature", [forged, pki.ecInt], {}, v)
    // The same certificate twice in one chain is still two certificates to path building.
    accepts([pki.alice, pki.ecInt, pki.ecInt], {}, v)
  })
})

describe("the remembered ids of cached certificates (issue 15)", () => {
  it("with the signature cache on, a changed, reused or revoked certificate is still refused", () => {
    const revoked = new Set<string>()
    const v = makeVerifier([pki.ecRoot], { isRevoked: (_, serial) => revoked.has(serial) })
    const chain = [pki.alice, pki.ecInt] as const
    const first = accepts([...chain], {}, v)
    const again = accepts([...chain], {}, v)
    expect(first.fingerprint).toBe(createHash("sha256").update(first.spki).digest("hex"))
    expect(again.fingerprint).toBe(first.fingerprint)
    // A flipped signature byte: other bytes, so neither the parse nor the verified signature is reused.
    const forged = pki.alice.der.slice()
    forged[forged.length - 2]! ^= 0x01
    rejects("BadSignature", [forged, pki.ecInt], {}, v)
    // The caller reuses the buffer of an accepted leaf: the remembered copy does not follow it.
    const reused = pki.alice.der.slice()
    accepts([reused, pki.ecInt], {}, v)
    reused.fill(0)
    rejects("Malformed", [reused, pki.ecInt], {}, v)
    // Revocation, time and identity are checked on every request, remembered chain or not.
    revoked.add(accepts([...chain], {}, v).serial)
    rejects("Revoked", [...chain], {}, v)
    revoked.clear()
    rejects("Expired", [...chain], { at: new Date(Date.now() + 400 * 86400_000) }, v)
    rejects("IdentityMismatch", [...chain], { expectedHandle: "bob@example.org" as Handle }, v)
    accepts([...chain], {}, v)
  })
})

describe("anchors", () => {
  it("refuse to build from malformed DER", () => {
    const r = Effect.runSync(Effect.either(CertVerifierLive.make({ anchors: [new Uint8Array([0x30, 0x00])] })))
    expect(Either.isLeft(r) && r.left.reason).toBe("Malformed")
  })

  it("are the only roots: a chain to another configured set fails", () => {
    rejects("UnknownIssuer", [pki.alice, pki.ecInt], {}, makeVerifier([pki.rsa2048Root]))
  })
})

describe("tampering", () => {
  it("every single-byte change to a leaf or its intermediate is rejected", () => {
    for (const [target, position] of [
      [pki.alice, 0],
      [pki.ecInt, 1]
    ] as const) {
      for (let i = 0; i < target.der.length; i++) {
        for (const mask of [0x01, 0x80]) {
          const bad = target.der.slice()
          bad[i]! ^= mask
          const chain = position === 0 ? [bad, pki.ecInt.der] : [pki.alice.der, bad]
          const r = run(chain)
          expect(Either.isLeft(r), `byte ${i} ^ ${mask} of ${target.subject}`).toBe(true)
        }
      }
    }
  })
})

describe("parsing agrees with node:crypto and pkijs", () => {
  it("serial, validity, CA flag, TBS bytes and SPKI fingerprint of every fixture", async () => {
    const pkijs = await import("pkijs")
    const certs = Object.values(pki).flatMap((v) => (Array.isArray(v) ? v : [v])) as ReadonlyArray<Cert>
    expect(certs.length).toBeGreaterThan(40)
    for (const cert of certs) {
      const parsed = parseCertificate(cert.der)
      if (parsed._tag !== "Parsed") throw new Error(`${cert.subject}: ${JSON.stringify(parsed)}`)
      const c = parsed.certificate
      const x = new X509Certificate(cert.der)
      expect(c.serial).toBe(x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ""))
      expect(c.notBefore).toBe(new Date(x.validFrom).getTime())
      expect(c.notAfter).toBe(new Date(x.validTo).getTime())
      // OpenSSL's "ca" = may issue: cA=TRUE and keyCertSign (it also admits keyCertSign without
      // basicConstraints, which we refuse).
      if (c.extensions.basicConstraints !== undefined) {
        const mayIssue = c.extensions.basicConstraints.ca && ((c.extensions.keyUsage ?? 0xff) & (1 << 5)) !== 0
        expect(mayIssue, cert.subject).toBe(x.ca)
      }
      const oracle = pkijs.Certificate.fromBER(cert.der)
      expect(Buffer.from(c.tbs).equals(Buffer.from(oracle.tbsView))).toBe(true)
      const spki = x.publicKey.export({ type: "spki", format: "der" })
      expect(certificateIdentity(cert.der)?.fingerprint).toBe(createHash("sha256").update(spki).digest("hex"))
    }
  })
})
