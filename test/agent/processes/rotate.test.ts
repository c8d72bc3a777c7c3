/**
 * `sixchat id rotate` end to end, and the revocation of a replaced key (issue 10 §2; PROTOCOL.md
 * 17.4.9 and 17.9.3), real processes on SQLite:
 *
 * * while dave's agent runs on his home, `id rotate` refuses and changes nothing;
 * * (d) a copy of dave's home with the OLD key (a stolen key, as in the issue) runs an agent that has a
 *   live session with bob; dave rotates (new key, Renew, old certificate revoked `superseded`): bob's
 *   agent closes that session with `certificate_revoked` within 2 s (measured from `revoked_at`);
 * * (f) the old certificate is `revoked`/`superseded` in storage, `lookup` names only the new one, and
 *   dave's agent with the new key delivers to bob.
 */
import { cpSync, readFileSync } from "node:fs"
import { join } from "node:path"
import Database from "better-sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { certificateIdentity } from "../../../src/domain/cert/identity.js"
import { pemDecode } from "../../../src/domain/pem.js"
import { runCli } from "../../support/cli.js"
import { closedAfterRevocation, inboundSession } from "./revocationSupport.js"
import { type AgentProc, call, type Domain, ok, startDomain, untilStates } from "./support.js"

let domain: Domain
let bob: AgentProc
let daveHome: string
const agents: Array<AgentProc> = []

const leafOf = (home: string) =>
  certificateIdentity(pemDecode(readFileSync(join(home, "cert.pem"), "utf8"), "CERTIFICATE")[0]!)!

const certificateRow = (serial: string) => {
  const db = new Database(join(domain.dir, "irp.sqlite"), { readonly: true, fileMustExist: true })
  try {
    return db.prepare("SELECT status, reason, revoked_at FROM irp_certificates WHERE serial = ?").get(serial) as
      | { status: string; reason: string | null; revoked_at: number | null }
      | undefined
  } finally {
    db.close()
  }
}

beforeAll(async () => {
  domain = await startDomain()
  const homes = await Promise.all(["bob", "dave"].map((n) => domain.enrol(n)))
  daveHome = homes[1]!
  bob = await domain.startAgent("bob", homes[0]!)
  agents.push(bob)
}, 60_000)

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()))
  await domain.cleanup()
}, 30_000)

describe("id rotate", () => {
  it("refuses while an agent runs on the home, and changes nothing", async () => {
    const dave = await domain.startAgent("dave", daveHome)
    const before = readFileSync(join(daveHome, "key.pem"), "utf8")
    const r = await runCli(["id", "rotate", "--home", daveHome])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("cannot be replaced while an agent uses")
    expect(r.stderr).toContain("Stop the agent first")
    expect(readFileSync(join(daveHome, "key.pem"), "utf8")).toBe(before)
    expect(await dave.stop()).toBe(0)
  }, 60_000)

  it("(d)+(f) rotates: the old key's live session at bob closes within 2 s, the new key works", async () => {
    const old = leafOf(daveHome)
    // Someone holds a copy of dave's home with the old key, and has a live session with bob.
    const stolenHome = join(domain.root, "dave-old")
    cpSync(daveHome, stolenHome, { recursive: true })
    const stolen = await domain.startAgent("dave", stolenHome)
    agents.push(stolen)
    await inboundSession(bob, stolen)

    let output = ""
    const ms = await closedAfterRevocation(
      bob,
      stolen,
      async () => {
        output = await ok(["id", "rotate", "--home", daveHome])
      },
      async () => Number(certificateRow(old.serial)?.revoked_at)
    )
    console.info(`SQLite, id rotate (old certificate superseded): revocation to session close at bob: ${ms} ms`)
    expect(ms).toBeLessThanOrEqual(2000)

    // What dave was told, in plain words.
    expect(output).toContain("key change warning")
    expect(output).toContain("compare the safety number")
    const fresh = leafOf(daveHome)
    expect(fresh.fingerprint).not.toBe(old.fingerprint)
    expect(output).toContain(`fingerprint ${fresh.fingerprint} (was ${old.fingerprint})`)
    expect(certificateRow(old.serial)).toMatchObject({ status: "revoked", reason: "superseded" })
    expect(certificateRow(fresh.serial)).toMatchObject({ status: "good" })
    const lookup = await ok(["lookup", "--home", daveHome, "--irp", domain.irpAddress, stolen.handle])
    expect(lookup).toContain(`serial ${fresh.serial}`)
    expect(lookup).not.toContain(`serial ${old.serial}`)
    expect(() => readFileSync(join(daveHome, "key.pem.old"))).toThrow()
    expect(await stolen.stop()).toBe(0)

    // Dave's agent with the new key: bob accepts it (a key change, non-strict) and gets the message.
    const dave = await domain.startAgent("dave", daveHome)
    agents.push(dave)
    const m = await call(dave, "send", { peer: bob.handle, body: "my new key" })
    await untilStates(dave, bob.handle, [m.id], ["delivered"], [bob, dave])
    expect((await call(bob, "contact", { peer: dave.handle })).fingerprint).toBe(fresh.fingerprint)
  }, 120_000)
})
