import { randomBytes } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import { pemDecode } from "../../src/domain/pem.js"
import { DomainFile, IrpConfigJson } from "../../src/domain/pki/config.js"
import { serialFromEntropy } from "../../src/domain/pki/profile.js"
import { issueClientCertificate } from "../../src/layers/ca/certificates.js"
import { createCsr } from "../../src/layers/ca/csr.js"
import { type DomainInitialised, initDomain, loadDomain } from "../../src/layers/ca/DomainDirectory.js"
import { generateKeyPair } from "../../src/layers/ca/keys.js"
import { openssl, opensslOk, removeTempDirs, tempDir, writePem } from "./cli.js"

afterAll(removeTempDirs)

const entropy = (n: number) => new Uint8Array(randomBytes(n))
const alice = "alice@example.org" as Handle

describe("initDomain", () => {
  let base: string
  let dir: string
  let init: DomainInitialised
  const started = new Date()

  beforeAll(async () => {
    base = tempDir()
    dir = join(base, "nested", "example.org")
    init = await Effect.runPromise(initDomain({ dir, domain: "example.org", now: started, entropy }))
  })

  it("writes the domain files; private keys are PKCS#8 PEM with mode 0600 in a 0700 directory", () => {
    // The public chain (PROTOCOL.md §22.2.1) is written only when one is given.
    const publicFiles: ReadonlyArray<string> = [DomainFile.publicChain, DomainFile.publicKey]
    expect(readdirSync(dir).sort()).toEqual(
      Object.values(DomainFile)
        .filter((f) => !publicFiles.includes(f))
        .sort()
    )
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    for (const key of [DomainFile.rootKey, DomainFile.issuingKey, DomainFile.serverKey]) {
      expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600)
      const text = readFileSync(join(dir, key), "utf8")
      expect(pemDecode(text, "PRIVATE KEY")).toHaveLength(1)
      expect(openssl(dir, ["pkey", "-in", key, "-noout", "-text"]).stdout).toContain("NIST CURVE: P-256")
    }
    for (const pub of [DomainFile.ca, DomainFile.issuingCa, DomainFile.server, DomainFile.config]) {
      const mode = statSync(join(dir, pub)).mode
      expect(mode & 0o022).toBe(0) // writable by the owner only
      expect(mode & 0o400).toBe(0o400)
      expect(readFileSync(join(dir, pub), "utf8")).not.toContain("PRIVATE KEY")
    }
    expect(pemDecode(readFileSync(join(dir, DomainFile.server), "utf8"), "CERTIFICATE")).toHaveLength(2)
    expect(init.files.ca).toBe(join(dir, DomainFile.ca))
  })

  it("writes irp.json with the domain, server names, listeners and database", () => {
    const config = Schema.decodeUnknownSync(IrpConfigJson)(readFileSync(join(dir, DomainFile.config), "utf8"))
    expect(config).toMatchObject({
      domain: "example.org",
      serverName: "irp.example.org",
      serverNames: ["irp.example.org", "example.org"],
      listen: ["[::]:4604", "0.0.0.0:4604"],
      db: "sqlite:irp.sqlite",
      clientValidityDays: 365
    })
  })

  it.effect("refuses an existing directory (Exists) and leaves it untouched", () =>
    Effect.gen(function* () {
      const before = readFileSync(join(dir, DomainFile.ca))
      const error = yield* Effect.flip(initDomain({ dir, domain: "example.org", now: new Date(), entropy }))
      expect(error.reason).toBe("Exists")
      expect(readFileSync(join(dir, DomainFile.ca))).toEqual(before)

      const empty = tempDir()
      const error2 = yield* Effect.flip(initDomain({ dir: empty, domain: "example.org", now: new Date(), entropy }))
      expect(error2.reason).toBe("Exists")
      expect(readdirSync(empty)).toEqual([])
    })
  )

  it.effect("refuses an invalid domain (BadParameter) and creates nothing", () =>
    Effect.gen(function* () {
      const target = join(tempDir(), "bad")
      const error = yield* Effect.flip(initDomain({ dir: target, domain: "Not A Domain", now: new Date(), entropy }))
      expect(error.reason).toBe("BadParameter")
      expect(existsSync(target)).toBe(false)
    })
  )

  it("openssl accepts the server certificate for sslserver (strict) and refuses it for sslclient", () => {
    const args = ["verify", "-x509_strict", "-CAfile", DomainFile.ca, "-untrusted", DomainFile.issuingCa]
    const server = openssl(dir, [...args, "-purpose", "sslserver", DomainFile.server])
    expect(server.stdout).toContain("server.pem: OK")
    expect(server.status).toBe(0)
    expect(openssl(dir, [...args, "-purpose", "sslclient", DomainFile.server]).status).not.toBe(0)
  })

  it("the server certificate follows the profile", () => {
    const text = openssl(dir, ["x509", "-in", DomainFile.server, "-noout", "-text"]).stdout
    expect(text).toContain("Subject: CN = irp.example.org")
    expect(text).toContain("DNS:irp.example.org, DNS:example.org")
    expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Server Authentication\n/)
    expect(text).toMatch(/Key Usage: critical\n\s+Digital Signature\n/)
    expect(text).toMatch(/Basic Constraints: critical\n\s+CA:FALSE/)
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256")
  })

  it("the root and issuing CAs follow the profile (pathLen, key usage, name constraints, validity)", () => {
    const root = openssl(dir, ["x509", "-in", DomainFile.ca, "-noout", "-text"]).stdout
    expect(root).toMatch(/Basic Constraints: critical\n\s+CA:TRUE, pathlen:1/)
    expect(root).toMatch(/Key Usage: critical\n\s+Certificate Sign, CRL Sign/)
    expect(root).toMatch(/Name Constraints: critical\n\s+Permitted:\n\s+email:example.org\n\s+DNS:example.org/)
    expect(root).toContain("Subject: O = example.org, CN = example.org SixChat Root CA")
    const issuing = openssl(dir, ["x509", "-in", DomainFile.issuingCa, "-noout", "-text"]).stdout
    expect(issuing).toMatch(/Basic Constraints: critical\n\s+CA:TRUE, pathlen:0/)
    expect(issuing).toMatch(/Key Usage: critical\n\s+Certificate Sign, CRL Sign/)
    expect(issuing).toContain("Authority Key Identifier")
    const endDate = (file: string) =>
      new Date(openssl(dir, ["x509", "-in", file, "-noout", "-enddate"]).stdout.trim().replace("notAfter=", ""))
    const days = (d: Date) => (d.getTime() - started.getTime()) / 86_400_000
    expect(Math.round(days(endDate(DomainFile.ca)))).toBe(3650)
    expect(Math.round(days(endDate(DomainFile.issuingCa)))).toBe(1095)
    expect(Math.round(days(endDate(DomainFile.server)))).toBe(365)
  })

  it.effect("loadDomain's issuer makes client certificates openssl accepts for sslclient only", () =>
    Effect.gen(function* () {
      const domain = yield* loadDomain(dir)
      expect(domain.config.domain).toBe("example.org")
      expect(domain.serverChain).toHaveLength(2)
      const key = yield* generateKeyPair()
      const csrDer = yield* createCsr({ handle: alice, pkcs8: key.pkcs8 })
      const issued = yield* issueClientCertificate({
        csrDer,
        handle: alice,
        issuer: domain.issuer,
        now: new Date(),
        serial: serialFromEntropy(entropy(16))
      })
      expect(issued.chain).toHaveLength(2)
      expect(issued.spki).toEqual(key.spki)
      const work = tempDir()
      writePem(work, "client.pem", "CERTIFICATE", [issued.chain[0]!])
      const args = ["verify", "-x509_strict", "-CAfile", join(dir, DomainFile.ca), "-untrusted"]
      const ok = openssl(work, [...args, join(dir, DomainFile.issuingCa), "-purpose", "sslclient", "client.pem"])
      expect(ok.stdout).toContain("client.pem: OK")
      expect(ok.status).toBe(0)
      // The chain the holder presents is enough: its second element is the issuing CA.
      writePem(work, "chain.pem", "CERTIFICATE", issued.chain.slice(1))
      expect(openssl(work, [...args, "chain.pem", "-purpose", "sslclient", "client.pem"]).status).toBe(0)
      expect(openssl(work, [...args, "chain.pem", "-purpose", "sslserver", "client.pem"]).status).not.toBe(0)

      const text = openssl(work, ["x509", "-in", "client.pem", "-noout", "-text"]).stdout
      expect(text).toContain("Subject: CN = alice@example.org")
      expect(text).toContain("email:alice@example.org")
      expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Client Authentication\n/)
      expect(text).toMatch(/Key Usage: critical\n\s+Digital Signature\n/)
      expect(text).toMatch(/Basic Constraints: critical\n\s+CA:FALSE/)
      expect(text).toContain("Subject Key Identifier")
      expect(text).toContain("Authority Key Identifier")
      const serial = openssl(work, ["x509", "-in", "client.pem", "-noout", "-serial"]).stdout.trim()
      expect(serial.replace("serial=", "").toLowerCase().replace(/^0+/, "")).toBe(issued.serial)
    })
  )

  it("the root's name constraints stop the issuing key from certifying another domain", () => {
    const work = tempDir()
    opensslOk(
      work,
      ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
        "-keyout",
        "bob.key",
        "-subj",
        "/CN=bob@other.org",
        "-out",
        "bob.csr"
      ])
    )
    writeFileSync(join(work, "ext"), "subjectAltName=email:bob@other.org\nextendedKeyUsage=clientAuth\n")
    opensslOk(
      work,
      ["x509", "-req", "-in", "bob.csr", "-CA", join(dir, DomainFile.issuingCa)].concat([
        "-CAkey",
        join(dir, DomainFile.issuingKey),
        "-set_serial",
        "0x1234",
        "-days",
        "1",
        "-extfile",
        "ext",
        "-out",
        "bob.pem"
      ])
    )
    const r = openssl(work, [
      "verify",
      "-CAfile",
      join(dir, DomainFile.ca),
      "-untrusted",
      join(dir, DomainFile.issuingCa),
      "bob.pem"
    ])
    expect(r.status).not.toBe(0)
    expect(r.stdout + r.stderr).toContain("permitted subtree violation")
  })
})
