/**
 * Which certificate may stand as a foreign domain's users' CA (PROTOCOL.md §22.3.2): roots made by our
 * own `irp init` code and by the `openssl` CLI, with and without name constraints.
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkDomainRoot } from "../../src/domain/federation/domainRoot.js"
import { initDomain } from "../../src/layers/ca/DomainDirectory.js"
import { Ext, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"
import { tempDir } from "../support/tempDirs.js"

let ws: OpensslWorkspace
beforeAll(async () => {
  ws = await makeWorkspace()
})
afterAll(async () => {
  await ws?.cleanup()
})

const constrained = (permitted: string, critical = true) =>
  Ext.root(`nameConstraints = ${critical ? "critical, " : ""}permitted;${permitted}\n`)

describe("a foreign domain's root (§22.3.2)", () => {
  it("accepts the root `irp init` makes for that domain, and refuses it for another domain", async () => {
    const made = await Effect.runPromise(
      initDomain({
        dir: join(tempDir("sixchat-domainroot-"), "other"),
        domain: "other.test",
        now: new Date(),
        entropy: (n) => new Uint8Array(randomBytes(n))
      })
    )
    expect(checkDomainRoot(made.rootCertificate, "other.test")._tag).toBe("Accepted")
    const elsewhere = checkDomainRoot(made.rootCertificate, "example.test")
    expect(elsewhere).toMatchObject({ _tag: "Refused", reason: "OutsideDomain" })
  })

  it("accepts an openssl root confined to the domain's mailboxes (the domain or one mailbox)", async () => {
    const root = await ws.issue({ subject: "/CN=Other Root", extensions: constrained("email:other.test") })
    expect(checkDomainRoot(root.der, "other.test")._tag).toBe("Accepted")
    const one = await ws.issue({ subject: "/CN=One", extensions: constrained("email:carol@other.test") })
    expect(checkDomainRoot(one.der, "other.test")._tag).toBe("Accepted")
  })

  it("refuses a root with no name constraints: it could vouch for any handle", async () => {
    const root = await ws.issue({ subject: "/CN=Open Root", extensions: Ext.root() })
    const r = checkDomainRoot(root.der, "other.test")
    expect(r).toMatchObject({ _tag: "Refused", reason: "Unconstrained" })
    if (r._tag === "Refused") expect(r.message).toMatch(/could vouch for people of any domain/)
  })

  it("refuses non-critical constraints, and constraints on DNS names only", async () => {
    const soft = await ws.issue({ subject: "/CN=Soft", extensions: constrained("email:other.test", false) })
    expect(checkDomainRoot(soft.der, "other.test")).toMatchObject({ _tag: "Refused", reason: "Unconstrained" })
    const dnsOnly = await ws.issue({ subject: "/CN=Dns", extensions: constrained("DNS:other.test") })
    expect(checkDomainRoot(dnsOnly.der, "other.test")).toMatchObject({ _tag: "Refused", reason: "Unconstrained" })
  })

  it("refuses a root that also permits another domain's, or a subdomain's, mailboxes", async () => {
    const two = await ws.issue({
      subject: "/CN=Two",
      extensions: Ext.root("nameConstraints = critical, permitted;email:other.test, permitted;email:example.test\n")
    })
    const r = checkDomainRoot(two.der, "other.test")
    expect(r).toMatchObject({ _tag: "Refused", reason: "OutsideDomain" })
    if (r._tag === "Refused") expect(r.message).toContain('"example.test"')
    const sub = await ws.issue({ subject: "/CN=Sub", extensions: constrained("email:.other.test") })
    expect(checkDomainRoot(sub.der, "other.test")).toMatchObject({ _tag: "Refused", reason: "OutsideDomain" })
  })

  it("refuses a leaf and bytes that are no certificate", async () => {
    const root = await ws.issue({ subject: "/CN=Root", extensions: constrained("email:other.test") })
    const leaf = await ws.issue({
      subject: "/CN=carol@other.test",
      issuer: root,
      extensions: Ext.clientLeaf("carol@other.test")
    })
    expect(checkDomainRoot(leaf.der, "other.test")).toMatchObject({ _tag: "Refused", reason: "NotCa" })
    expect(checkDomainRoot(new Uint8Array([0x30, 0x03, 0x02, 0x01]), "other.test")).toMatchObject({
      _tag: "Refused",
      reason: "Malformed"
    })
  })
})
