import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import { DomainFile } from "../../src/domain/pki/config.js"
import { serialFromEntropy } from "../../src/domain/pki/profile.js"
import { CertificateAuthority, layer as caLayer } from "../../src/layers/ca/CertificateAuthority.js"
import { issueClientCertificate } from "../../src/layers/ca/certificates.js"
import { createCrl } from "../../src/layers/ca/crl.js"
import { createCsr } from "../../src/layers/ca/csr.js"
import { initDomain, type LoadedDomain, loadDomain } from "../../src/layers/ca/DomainDirectory.js"
import { generateKeyPair } from "../../src/layers/ca/keys.js"
import { Entropy } from "../../src/services/Entropy.js"
import { openssl, removeTempDirs, tempDir, writePem } from "./cli.js"

afterAll(removeTempDirs)

const entropy = (n: number) => new Uint8Array(randomBytes(n))
const alice = "alice@example.org" as Handle
const created = new Date("2026-01-01T00:00:00Z")

let dir: string
let domain: LoadedDomain
let trust: string

beforeAll(async () => {
  dir = join(tempDir(), "domain")
  await Effect.runPromise(initDomain({ dir, domain: "example.org", now: created, entropy }))
  domain = await Effect.runPromise(loadDomain(dir))
  // openssl crl -verify finds the CRL issuer in -CAfile: give it the issuing CA and the root.
  trust = writePem(tempDir(), "trust.pem", "CERTIFICATE", [domain.rootCertificate, domain.issuer.certificateDer])
})

const issueAlice = (now: Date) =>
  Effect.gen(function* () {
    const key = yield* generateKeyPair()
    const csrDer = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
    return yield* issueClientCertificate({
      csrDer,
      handle: alice,
      issuer: domain.issuer,
      now,
      serial: serialFromEntropy(entropy(16))
    })
  })

describe("createCrl", () => {
  it.effect("makes a v2 CRL openssl verifies, listing the revoked serials with their reasons", () =>
    Effect.gen(function* () {
      const now = new Date()
      const revoked = yield* issueAlice(now)
      const kept = yield* issueAlice(now)
      const crl = yield* createCrl({
        issuer: domain.issuer,
        entries: [
          { serial: revoked.serial, revokedAt: now, reason: "keyCompromise" },
          { serial: "ff01", revokedAt: now }
        ],
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 86_400_000),
        crlNumber: 42n
      })
      const work = tempDir()
      writePem(work, "crl.pem", "X509 CRL", [crl])
      const r = openssl(work, ["crl", "-in", "crl.pem", "-CAfile", trust, "-verify", "-noout", "-text"])
      expect(r.status).toBe(0)
      expect(r.stderr).toContain("verify OK")
      expect(r.stdout).toContain("Version 2 (0x1)")
      expect(r.stdout).toContain("Issuer: O = example.org, CN = example.org SixChat Issuing CA")
      expect(r.stdout).toMatch(/CRL Number: \n\s+42\n/)
      expect(r.stdout).toContain("X509v3 Authority Key Identifier")
      expect(r.stdout).toContain(`Serial Number: ${revoked.serial.toUpperCase().padStart(32, "0")}`)
      expect(r.stdout).toContain("Key Compromise")
      expect(r.stdout).toContain("Serial Number: FF01")
      expect(r.stdout).not.toContain(kept.serial.toUpperCase())

      // openssl's own chain check with the CRL: the revoked certificate fails, the other passes.
      writePem(work, "revoked.pem", "CERTIFICATE", [revoked.chain[0]!])
      writePem(work, "kept.pem", "CERTIFICATE", [kept.chain[0]!])
      const args = ["verify", "-crl_check", "-CRLfile", "crl.pem", "-CAfile", join(dir, DomainFile.ca)]
      const untrusted = ["-untrusted", join(dir, DomainFile.issuingCa)]
      const bad = openssl(work, [...args, ...untrusted, "revoked.pem"])
      expect(bad.status).not.toBe(0)
      expect(bad.stdout + bad.stderr).toContain("certificate revoked")
      expect(openssl(work, [...args, ...untrusted, "kept.pem"]).status).toBe(0)
    })
  )

  it.effect("an empty CRL verifies and lists nothing", () =>
    Effect.gen(function* () {
      const now = new Date()
      const crl = yield* createCrl({
        issuer: domain.issuer,
        entries: [],
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 3_600_000),
        crlNumber: 0n
      })
      const work = tempDir()
      writePem(work, "crl.pem", "X509 CRL", [crl])
      const r = openssl(work, ["crl", "-in", "crl.pem", "-CAfile", trust, "-verify", "-noout", "-text"])
      expect(r.status).toBe(0)
      expect(r.stdout).toContain("No Revoked Certificates")
    })
  )

  it.effect("refuses bad parameters (BadParameter)", () =>
    Effect.gen(function* () {
      const now = new Date()
      const base = {
        issuer: domain.issuer,
        entries: [],
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 1000),
        crlNumber: 1n
      }
      const reason = (p: Parameters<typeof createCrl>[0]) => Effect.flip(createCrl(p)).pipe(Effect.map((e) => e.reason))
      expect(yield* reason({ ...base, nextUpdate: now })).toBe("BadParameter")
      expect(yield* reason({ ...base, crlNumber: -1n })).toBe("BadParameter")
      expect(yield* reason({ ...base, entries: [{ serial: "xyz", revokedAt: now }] })).toBe("BadParameter")
    })
  )
})

describe("CertificateAuthority service", () => {
  const fixedEntropy = Layer.succeed(Entropy, { bytes: (n: number) => new Uint8Array(n).fill(0xab) })

  it.effect("issues with the Clock's time and Entropy's serial, and makes CRLs valid for the configured hours", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-06-01T12:00:00Z"))
      const ca = yield* CertificateAuthority
      expect(ca.domain).toBe("example.org")
      expect(ca.trustAnchor).toEqual(domain.rootCertificate)
      const key = yield* generateKeyPair()
      const csrDer = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
      const issued = yield* ca.issueClient(csrDer, alice)
      expect(issued.notBefore.toISOString()).toBe("2026-06-01T11:55:00.000Z")
      expect(issued.notAfter.toISOString()).toBe("2027-06-01T12:00:00.000Z")
      expect(issued.serial).toBe("2b".concat("ab".repeat(15)))
      const refused = yield* Effect.flip(ca.issueClient(csrDer, "bob@example.org" as Handle))
      expect(refused.reason).toBe("CsrHandleMismatch")

      const crl = yield* ca.crl([{ serial: issued.serial, revokedAt: new Date("2026-06-01T12:00:00Z") }], 1n)
      const work = tempDir()
      writePem(work, "crl.pem", "X509 CRL", [crl])
      const text = openssl(work, ["crl", "-in", "crl.pem", "-CAfile", trust, "-verify", "-noout", "-text"])
      expect(text.status).toBe(0)
      expect(text.stdout).toContain("Last Update: Jun  1 12:00:00 2026 GMT")
      expect(text.stdout).toContain("Next Update: Jun  2 12:00:00 2026 GMT")
    }).pipe(Effect.provide(caLayer(dir).pipe(Layer.provide(fixedEntropy))))
  )

  it.effect("fails to build (Io) on a directory that is not a domain", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(CertificateAuthority, caLayer(tempDir()).pipe(Layer.provide(fixedEntropy)))
      )
      expect(error.reason).toBe("Io")
      expect(error.message).toContain("irp.json does not exist")
    })
  )
})
