/**
 * `sixchat cert verify` as a real process on chains made by the openssl CLI: exit 0, 1 (reason on one
 * stderr line), 2 (usage / input errors).
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { makeTestPki } from "../support/identities.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const server = pki.server("irp.example.org")
const other = makeTestPki("Other CA")
const now = new Date().toISOString()

describe("sixchat cert verify (process)", () => {
  it("accepts a client certificate (exit 0), with milliseconds in --at", async () => {
    const r = await runCli([
      "cert",
      "verify",
      "--trust",
      pki.caPath,
      "--leaf",
      alice.certPath,
      "--at",
      now,
      "--purpose",
      "client-auth"
    ])
    expect(r.code).toBe(0)
  })

  it("rejects with one stderr line (exit 1): unknown CA, wrong purpose, expired", async () => {
    const unknown = await runCli(["cert", "verify", "--trust", other.caPath, "--leaf", alice.certPath, "--at", now])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1)
    expect(unknown.stderr).toMatch(/UnknownIssuer/)
    const purpose = await runCli([
      "cert",
      "verify",
      "--trust",
      pki.caPath,
      "--leaf",
      server.certPath,
      "--at",
      now,
      "--purpose",
      "client-auth"
    ])
    expect(purpose.code).toBe(1)
    expect(purpose.stderr).toMatch(/WrongPurpose/)
    const any = await runCli([
      "cert",
      "verify",
      "--trust",
      pki.caPath,
      "--leaf",
      server.certPath,
      "--at",
      now,
      "--purpose",
      "any"
    ])
    expect(any.code).toBe(0)
    const later = await runCli([
      "cert",
      "verify",
      "--trust",
      pki.caPath,
      "--leaf",
      alice.certPath,
      "--at",
      "2099-01-01T00:00:00Z"
    ])
    expect(later.code).toBe(1)
    expect(later.stderr).toMatch(/Expired/)
  })

  it("usage and input errors exit 2", async () => {
    const empty = join(pki.dir, "empty.pem")
    writeFileSync(empty, "no certificate here\n")
    expect((await runCli(["cert", "verify", "--trust", pki.caPath, "--leaf", empty, "--at", now])).code).toBe(2)
    expect(
      (await runCli(["cert", "verify", "--trust", pki.caPath, "--leaf", alice.certPath, "--at", "yesterday"])).code
    ).toBe(2)
    expect((await runCli(["cert", "verify", "--leaf", alice.certPath, "--at", now])).code).toBe(2)
    expect(
      (await runCli(["cert", "verify", "--trust", "/nonexistent.pem", "--leaf", alice.certPath, "--at", now])).code
    ).toBe(2)
  })

  it("--max-depth takes any non-negative integer (255 included); a negative one exits 2", async () => {
    const args = ["cert", "verify", "--trust", pki.caPath, "--leaf", alice.certPath, "--at", now]
    expect((await runCli([...args, "--max-depth", "255"])).code).toBe(0)
    expect((await runCli([...args, "--max-depth", "-1"])).code).toBe(2)
  })

  it("a certificate over the size limit is a refusal (exit 1, LimitExceeded), as leaf or as trust anchor", async () => {
    // A self-signed certificate with 1,200 SAN dNSNames: about 25 KB of DER.
    const san = Array.from({ length: 1200 }, (_, i) => `DNS:name${i}.example.org`).join(",")
    const big = join(pki.dir, "big.pem")
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
        ...["-keyout", join(pki.dir, "big.key"), "-subj", "/CN=big.example.org", "-days", "2"],
        ...["-addext", `subjectAltName=${san}`, "-out", big]
      ],
      { stdio: "pipe" }
    )
    const asLeaf = await runCli(["cert", "verify", "--trust", pki.caPath, "--leaf", big, "--at", now])
    expect(asLeaf.code).toBe(1)
    expect(asLeaf.stderr).toMatch(/LimitExceeded: The leaf certificate is \d+ bytes long/)
    const asTrust = await runCli(["cert", "verify", "--trust", big, "--leaf", alice.certPath, "--at", now])
    expect(asTrust.code).toBe(1)
    expect(asTrust.stderr).toMatch(/LimitExceeded: Trust anchor 1 is \d+ bytes long/)
    expect(asTrust.stderr.trim().split("\n")).toHaveLength(1)
  })
})
