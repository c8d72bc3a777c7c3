/**
 * `sixchat cert verify` as a real process on chains made by the openssl CLI: exit 0, 1 (reason on one
 * stderr line), 2 (usage / input errors).
 */
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
})
