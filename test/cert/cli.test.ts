/**
 * `sixchat cert verify` in-process: exit codes 0 (accepted), 1 (rejected), 2 (usage / input).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { parseAt, runCertVerify } from "../../src/cli/certVerify.js"
import { bundle, Ext, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"

let ws: OpensslWorkspace
const f: Record<string, string> = {}
const DAY = 86400_000
const now = new Date().toISOString()

beforeAll(async () => {
  ws = await makeWorkspace()
  const [root, otherRoot] = await Promise.all([
    ws.issue({ subject: "/CN=CLI Root", extensions: Ext.root() }),
    ws.issue({ subject: "/CN=CLI Other Root", extensions: Ext.root() })
  ])
  const int = await ws.issue({ subject: "/CN=CLI Issuing", issuer: root, extensions: Ext.intermediate() })
  const [leaf, expired, server, stranger] = await Promise.all([
    ws.issue({ subject: "/CN=alice@example.org", issuer: int, extensions: Ext.clientLeaf("alice@example.org") }),
    ws.issue({
      subject: "/CN=alice@example.org",
      issuer: int,
      extensions: Ext.clientLeaf("alice@example.org"),
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY)
    }),
    ws.issue({ subject: "/CN=irp.example.org", issuer: int, extensions: Ext.serverLeaf("irp.example.org") }),
    ws.issue({ subject: "/CN=bob@example.org", issuer: otherRoot, extensions: Ext.clientLeaf("bob@example.org") })
  ])
  f.trust = await ws.file("trust.pem", bundle(otherRoot, root))
  f.int = await ws.file("int.pem", int.pem)
  f.leaf = await ws.file("leaf.pem", leaf.pem)
  f.leafDer = await ws.file("leaf.der", leaf.der)
  f.fullchain = await ws.file("fullchain.pem", bundle(leaf, int))
  f.expired = await ws.file("expired.pem", expired.pem)
  f.server = await ws.file("server.pem", server.pem)
  f.stranger = await ws.file("stranger.pem", stranger.pem)
  f.strangerTrust = await ws.file("only-root.pem", root.pem)
  f.noCert = await ws.file("nocert.pem", "just some text\n")
  f.garbage = await ws.file(
    "garbage.pem",
    `-----BEGIN CERTIFICATE-----\n${Buffer.from("not a certificate at all").toString("base64")}\n-----END CERTIFICATE-----\n`
  )
}, 60_000)
afterAll(() => ws?.cleanup())

const cli = async (args: ReadonlyArray<string>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => void out.push(a.join(" ")))
  const error = vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => void err.push(a.join(" ")))
  try {
    const code = await runCertVerify(args)
    return { code, out: out.join("\n"), err: err.join("\n") }
  } finally {
    log.mockRestore()
    error.mockRestore()
  }
}

const base = () => ["--trust", f.trust!, "--untrusted", f.int!, "--leaf", f.leaf!, "--at", now]

describe("sixchat cert verify", () => {
  it("exit 0 with one line on stdout for an accepted chain", async () => {
    const r = await cli(base())
    expect(r.code).toBe(0)
    expect(r.out.split("\n")).toHaveLength(1)
    expect(r.out).toContain("alice@example.org")
    expect(r.err).toBe("")
  })

  it("accepts a full-chain leaf file, a DER leaf, milliseconds in --at and repeated --trust", async () => {
    expect((await cli(["--trust", f.trust!, "--leaf", f.fullchain!, "--at", now])).code).toBe(0)
    expect((await cli(["--trust", f.trust!, "--untrusted", f.int!, "--leaf", f.leafDer!, "--at", now])).code).toBe(0)
    expect((await cli([...base().slice(0, -1), new Date().toISOString().replace("Z", "+00:00")])).code).toBe(0)
    const two = ["--trust", f.noCert!, "--trust", f.trust!, "--leaf", f.fullchain!, "--at", now]
    expect((await cli(two)).code).toBe(2) // a trust file without certificates is an input error
    const repeated = ["--trust", f.strangerTrust!, "--trust", f.trust!, "--leaf", f.fullchain!, "--at", now]
    expect((await cli(repeated)).code).toBe(0)
  })

  it("exit 1 with the reason on stderr for rejected chains", async () => {
    const expired = await cli(["--trust", f.trust!, "--untrusted", f.int!, "--leaf", f.expired!, "--at", now])
    expect(expired.code).toBe(1)
    expect(expired.err).toMatch(/^sixchat: Expired: The certificate "CN=alice@example.org" expired at /)
    expect(expired.err.split("\n")).toHaveLength(1)
    expect(expired.out).toBe("")
    const unknown = await cli(["--trust", f.strangerTrust!, "--leaf", f.stranger!, "--at", now])
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain("UnknownIssuer")
    const later = await cli([...base().slice(0, -1), new Date(Date.now() + 3 * 365 * DAY).toISOString()])
    expect(later.err).toContain("Expired")
    const garbage = await cli(["--trust", f.trust!, "--leaf", f.garbage!, "--at", now])
    expect(garbage.code).toBe(1)
    expect(garbage.err).toContain("Malformed")
  })

  it("--purpose: a server certificate fails client-auth but passes any and server-auth", async () => {
    const args = ["--trust", f.trust!, "--untrusted", f.int!, "--leaf", f.server!, "--at", now]
    const r = await cli(args)
    expect(r.code).toBe(1)
    expect(r.err).toContain("WrongPurpose")
    expect((await cli([...args, "--purpose", "any"])).code).toBe(0)
    expect((await cli([...args, "--purpose", "server-auth"])).code).toBe(0)
  })

  it("--max-depth counts intermediates", async () => {
    const r = await cli([...base(), "--max-depth", "0"])
    expect(r.code).toBe(1)
    expect(r.err).toContain("ChainTooLong")
    expect((await cli([...base(), "--max-depth", "1"])).code).toBe(0)
  })

  it("exit 2 for input errors: unreadable file, no certificate, bad --at, bad --max-depth", async () => {
    const missing = await cli(["--trust", `${ws.dir}/nope.pem`, "--leaf", f.leaf!, "--at", now])
    expect(missing.code).toBe(2)
    expect(missing.err).toContain("nope.pem")
    expect((await cli(["--trust", f.trust!, "--leaf", f.noCert!, "--at", now])).code).toBe(2)
    for (const bad of ["yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00"]) {
      const r = await cli([...base().slice(0, -1), bad])
      expect(r.code, bad).toBe(2)
      expect(r.err).toContain("--at")
    }
    expect((await cli([...base(), "--max-depth", "-1"])).code).toBe(2)
  })

  it("exit 2 for usage errors reported by @effect/cli", async () => {
    expect((await cli(["--trust", f.trust!, "--at", now])).code).toBe(2) // no --leaf
    expect((await cli(["--leaf", f.leaf!, "--at", now])).code).toBe(2) // no --trust
    expect((await cli([...base(), "--purpose", "email"])).code).toBe(2)
    expect((await cli([...base(), "--max-depth", "many"])).code).toBe(2)
    expect((await cli([...base(), "--bogus"])).code).toBe(2)
    expect((await cli([...base(), "extra-argument"])).code).toBe(2)
  })
})

describe("parseAt", () => {
  it("reads RFC 3339 times with zones, truncating fractions", () => {
    expect(parseAt("2026-01-31T12:00:00Z")?.toISOString()).toBe("2026-01-31T12:00:00.000Z")
    expect(parseAt("2026-01-31T12:00:00.987Z")?.toISOString()).toBe("2026-01-31T12:00:00.000Z") // truncated
    expect(parseAt("2026-01-31T14:00:00+02:00")?.toISOString()).toBe("2026-01-31T12:00:00.000Z")
    expect(parseAt("2024-02-29T00:00:00Z")).toBeDefined()
    expect(parseAt("2025-02-29T00:00:00Z")).toBeUndefined()
    expect(parseAt("")).toBeUndefined()
  })
})
