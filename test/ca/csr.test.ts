import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import { serialFromEntropy } from "../../src/domain/pki/profile.js"
import {
  createIssuingCa,
  createRootCa,
  type Issuer,
  issueClientCertificate,
  loadIssuer
} from "../../src/layers/ca/certificates.js"
import { createCsr, verifyCsr } from "../../src/layers/ca/csr.js"
import { generateKeyPair, KEY_SEED_BYTES } from "../../src/layers/ca/keys.js"
import { openssl, opensslCsr, opensslOk, readBytes, removeTempDirs, tempDir, writePem } from "./cli.js"

afterAll(removeTempDirs)

const alice = "alice@example.org" as Handle
const entropy = (n: number) => new Uint8Array(randomBytes(n))

const reasonOf = (effect: Effect.Effect<unknown, { readonly reason: string }>) =>
  Effect.flip(effect).pipe(Effect.map((e) => e.reason))

describe("CSRs", () => {
  let work: string
  let issuer: Issuer

  beforeAll(async () => {
    work = tempDir()
    issuer = await Effect.runPromise(
      Effect.gen(function* () {
        const rootKey = yield* generateKeyPair()
        const now = new Date()
        const rootDer = yield* createRootCa({
          domain: "example.org",
          key: rootKey,
          now,
          serial: serialFromEntropy(entropy(16))
        })
        const root = yield* loadIssuer({ certificateDer: rootDer, pkcs8: rootKey.pkcs8, domain: "example.org" })
        const key = yield* generateKeyPair()
        const der = yield* createIssuingCa({ key, issuer: root, now, serial: serialFromEntropy(entropy(16)) })
        return yield* loadIssuer({ certificateDer: der, pkcs8: key.pkcs8, domain: "example.org" })
      })
    )
  })

  it.effect("a CSR made by our code passes openssl req -verify and names the handle", () =>
    Effect.gen(function* () {
      const key = yield* generateKeyPair()
      const csr = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
      writePem(work, "ours.csr", "CERTIFICATE REQUEST", [csr])
      const r = openssl(work, ["req", "-in", "ours.csr", "-verify", "-noout", "-text"])
      expect(r.status).toBe(0)
      expect(r.stdout + r.stderr).toMatch(/verify OK/)
      expect(r.stdout).toContain("Subject: CN = alice@example.org")
      expect(r.stdout).toContain("email:alice@example.org")
      const checked = yield* verifyCsr(csr, alice)
      expect(checked).toEqual({ spki: key.spki, handle: alice, algorithm: "ecdsa-p256" })
    })
  )

  it.effect("accepts CSRs made by openssl req: EC P-256 (with and without SAN) and Ed25519", () =>
    Effect.gen(function* () {
      const ec = opensslCsr(work, { newkey: "ec", cn: alice, san: `email:${alice}` })
      expect((yield* verifyCsr(ec, alice)).algorithm).toBe("ecdsa-p256")
      const noSan = opensslCsr(work, { newkey: "ec", cn: alice })
      expect((yield* verifyCsr(noSan, alice)).handle).toBe(alice)
      const ed = opensslCsr(work, { newkey: "ed25519", cn: alice })
      expect((yield* verifyCsr(ed, alice)).algorithm).toBe("ed25519")
      // and a certificate issued for the Ed25519 key verifies with openssl
      const issued = yield* issueClientCertificate({
        csrDer: ed,
        handle: alice,
        issuer,
        now: new Date(),
        serial: serialFromEntropy(entropy(16))
      })
      writePem(work, "ed-leaf.pem", "CERTIFICATE", [issued.chain[0]!])
      writePem(work, "ed-chain.pem", "CERTIFICATE", issued.chain.slice(1))
      expect(
        openssl(work, ["verify", "-partial_chain", "-CAfile", "ed-chain.pem", "-purpose", "sslclient", "ed-leaf.pem"])
          .status
      ).toBe(0)
    })
  )

  it.effect("certifies a compressed EC point in its canonical uncompressed form", () =>
    Effect.gen(function* () {
      opensslOk(work, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "plain.key"])
      opensslOk(work, ["ec", "-in", "plain.key", "-conv_form", "compressed", "-out", "compressed.key"])
      opensslOk(work, [
        "req",
        "-new",
        "-key",
        "compressed.key",
        "-subj",
        `/CN=${alice}`,
        "-outform",
        "DER",
        "-out",
        "c.der"
      ])
      const csr = readBytes(work, "c.der")
      const checked = yield* verifyCsr(csr, alice)
      // SPKI of P-256: 26 bytes of header then the 65-byte point 0x04 || x || y.
      expect(checked.spki).toHaveLength(91)
      expect(checked.spki[26]).toBe(0x04)
      opensslOk(work, ["pkey", "-in", "plain.key", "-pubout", "-outform", "DER", "-out", "plain.spki"])
      expect(checked.spki).toEqual(readBytes(work, "plain.spki"))
    })
  )

  it.effect("refuses a CSR whose signature does not verify (CsrSignature)", () =>
    Effect.gen(function* () {
      const key = yield* generateKeyPair()
      const csr = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
      // Change the signed CN after signing: alice -> alicf (same length, still well-formed DER).
      const at = Buffer.from(csr).indexOf("alice@")
      const renamed = Uint8Array.from(csr)
      renamed[at + 4] = "f".charCodeAt(0)
      expect(yield* reasonOf(verifyCsr(renamed, "alicf@example.org" as Handle))).toBe("CsrSignature")
      // Flip a bit in the signature value (the last byte of the DER).
      const flipped = Uint8Array.from(csr)
      flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0x01
      expect(yield* reasonOf(verifyCsr(flipped, alice))).toBe("CsrSignature")
    })
  )

  it.effect("refuses a CSR for another handle (CsrHandleMismatch)", () =>
    Effect.gen(function* () {
      const key = yield* generateKeyPair()
      const mallory = yield* createCsr({ handle: "mallory@example.org" as Handle, pkcs8: key.pkcs8 })
      expect(yield* reasonOf(verifyCsr(mallory, alice))).toBe("CsrHandleMismatch")
      // The right CN but a SAN naming someone else as well.
      const extraSan = opensslCsr(work, { newkey: "ec", cn: alice, san: `email:${alice},email:bob@example.org` })
      expect(yield* reasonOf(verifyCsr(extraSan, alice))).toBe("CsrHandleMismatch")
      const dnsSan = opensslCsr(work, { newkey: "ec", cn: alice, san: "DNS:example.org" })
      expect(yield* reasonOf(verifyCsr(dnsSan, alice))).toBe("CsrHandleMismatch")
      const upper = opensslCsr(work, { newkey: "ec", cn: "Alice@example.org" })
      expect(yield* reasonOf(verifyCsr(upper, alice))).toBe("CsrHandleMismatch")
    })
  )

  it.effect("refuses keys outside the policy (KeyPolicy): RSA-1024, RSA-2048, P-384 by default", () =>
    Effect.gen(function* () {
      const rsa1024 = opensslCsr(work, { newkey: "rsa:1024", cn: alice })
      const error = yield* Effect.flip(verifyCsr(rsa1024, alice))
      expect(error.reason).toBe("KeyPolicy")
      expect(error.message).toContain("RSA key of 1024 bits")
      expect(yield* reasonOf(verifyCsr(opensslCsr(work, { newkey: "rsa:2048", cn: alice }), alice))).toBe("KeyPolicy")
      const p384 = opensslCsr(work, { newkey: "ec", curve: "P-384", cn: alice })
      expect(yield* reasonOf(verifyCsr(p384, alice))).toBe("KeyPolicy")
      expect((yield* verifyCsr(p384, alice, { accepted: ["ecdsa-p384"] })).algorithm).toBe("ecdsa-p384")
    })
  )

  it.effect("refuses what is not a CSR (BadCsr)", () =>
    Effect.gen(function* () {
      const key = yield* generateKeyPair()
      const csr = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
      expect(yield* reasonOf(verifyCsr(new Uint8Array(0), alice))).toBe("BadCsr")
      expect(yield* reasonOf(verifyCsr(entropy(200), alice))).toBe("BadCsr")
      expect(yield* reasonOf(verifyCsr(csr.subarray(0, csr.length - 5), alice))).toBe("BadCsr")
      expect(yield* reasonOf(verifyCsr(Uint8Array.of(...csr, 0), alice))).toBe("BadCsr")
      expect(yield* reasonOf(verifyCsr(new Uint8Array(9000), alice))).toBe("BadCsr")
      expect(yield* reasonOf(verifyCsr(issuer.certificateDer, alice))).toBe("BadCsr")
    })
  )

  it.effect("issues only handles of the issuer's domain", () =>
    Effect.gen(function* () {
      const key = yield* generateKeyPair()
      const bob = "bob@other.org" as Handle
      const csrDer = yield* createCsr({ handle: bob, pkcs8: key.pkcs8 })
      const issue = issueClientCertificate({
        csrDer,
        handle: bob,
        issuer,
        now: new Date(),
        serial: serialFromEntropy(entropy(16))
      })
      expect(yield* reasonOf(issue)).toBe("CsrHandleMismatch")
    })
  )

  it.effect("issueClientCertificate clamps notAfter to the issuer's and backdates notBefore by 5 minutes", () =>
    Effect.gen(function* () {
      const key = yield* generateKeyPair()
      const csrDer = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
      const now = new Date("2027-03-04T05:06:07.890Z")
      const issued = yield* issueClientCertificate({
        csrDer,
        handle: alice,
        issuer,
        now,
        serial: Uint8Array.of(0x01, 0x02),
        validityDays: 30
      })
      expect(issued.notBefore.toISOString()).toBe("2027-03-04T05:01:07.000Z")
      expect(issued.notAfter.toISOString()).toBe("2027-04-03T05:06:07.000Z")
      expect(issued.serial).toBe("102")
      const late = yield* issueClientCertificate({
        csrDer,
        handle: alice,
        issuer,
        now: new Date(issuer.notAfter.getTime() - 86_400_000),
        serial: Uint8Array.of(3)
      })
      expect(late.notAfter).toEqual(issuer.notAfter)
      const expired = issueClientCertificate({
        csrDer,
        handle: alice,
        issuer,
        now: new Date(issuer.notAfter.getTime() + 3_600_000),
        serial: Uint8Array.of(4)
      })
      expect(yield* reasonOf(expired)).toBe("Internal")
      const badSerial = issueClientCertificate({ csrDer, handle: alice, issuer, now, serial: Uint8Array.of(0x80) })
      expect(yield* reasonOf(badSerial)).toBe("BadParameter")
    })
  )

  it.effect("a key from a seed is deterministic; without a seed it is fresh", () =>
    Effect.gen(function* () {
      const seed = entropy(KEY_SEED_BYTES)
      const a = yield* generateKeyPair(seed)
      const b = yield* generateKeyPair(seed)
      expect(a.spki).toEqual(b.spki)
      expect(a.pkcs8).toEqual(b.pkcs8)
      const c = yield* generateKeyPair()
      expect(c.spki).not.toEqual(a.spki)
      expect(yield* reasonOf(generateKeyPair(entropy(32)))).toBe("Internal")
    })
  )
})
