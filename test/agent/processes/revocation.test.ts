/**
 * Revocation reaches every watching agent (issue 10 §2; PROTOCOL.md 17.9.3), real processes on SQLite:
 * one `irp serve`, agents for bob, carol and erin, and the revocations made the ways people make them:
 *
 * (a) the operator's `sixchat irp revoke --handle carol`, a separate process writing to the SQLite file;
 * (c) erin's own `sixchat revoke` through the protocol.
 *
 * In both, the peer dialed bob (so for bob it is an inbound session, which he must watch too), and
 * bob's agent must close the live session with `certificate_revoked` within 2 s of the revocation
 * (the requirement), measured from the `revoked_at` stored in the database to the moment bob's
 * `SessionDown` event arrives here. The figures are printed.
 */
import { join } from "node:path"
import Database from "better-sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Handle } from "../../../src/domain/brands.js"
import { closedAfterRevocation, inboundSession } from "./revocationSupport.js"
import { type AgentProc, type Domain, ok, startDomain } from "./support.js"

let domain: Domain
let bob: AgentProc
let carol: AgentProc
let erin: AgentProc
let erinHome: string

beforeAll(async () => {
  domain = await startDomain()
  const homes = await Promise.all(["bob", "carol", "erin"].map((n) => domain.enrol(n)))
  erinHome = homes[2]!
  ;[bob, carol, erin] = await Promise.all([
    domain.startAgent("bob", homes[0]!),
    domain.startAgent("carol", homes[1]!),
    domain.startAgent("erin", homes[2]!)
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([bob, carol, erin].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
}, 30_000)

/** The newest revocation of `handle` as stored (ms since the epoch). */
const revokedAt = (handle: Handle): number => {
  const db = new Database(join(domain.dir, "irp.sqlite"), { readonly: true, fileMustExist: true })
  try {
    const row = db
      .prepare(
        "SELECT revoked_at FROM irp_certificates WHERE handle = ? AND status = 'revoked' ORDER BY revoked_at DESC LIMIT 1"
      )
      .get(handle) as { revoked_at: number } | undefined
    if (row === undefined) throw new Error(`no revoked certificate of ${handle} in the database`)
    return Number(row.revoked_at)
  } finally {
    db.close()
  }
}

describe("a revocation closes every live session with that certificate (SQLite)", () => {
  it("(a) the operator's `irp revoke --handle carol`, from another process: bob closes within 2 s", async () => {
    await inboundSession(bob, carol)
    const ms = await closedAfterRevocation(
      bob,
      carol,
      () => ok(["irp", "revoke", "--dir", domain.dir, "--handle", carol.handle, "--reason", "keyCompromise"]),
      async () => revokedAt(carol.handle)
    )
    console.info(`SQLite, operator revoke (another process): revocation to session close at bob: ${ms} ms`)
    expect(ms).toBeLessThanOrEqual(2000)
  }, 60_000)

  it("(c) erin's own `sixchat revoke`: bob closes within 2 s", async () => {
    await inboundSession(bob, erin)
    const ms = await closedAfterRevocation(
      bob,
      erin,
      () => ok(["revoke", "--home", erinHome, "--irp", domain.irpAddress, "--reason", "keyCompromise"]),
      async () => revokedAt(erin.handle)
    )
    console.info(`SQLite, holder revoke (sixchat revoke): revocation to session close at bob: ${ms} ms`)
    expect(ms).toBeLessThanOrEqual(2000)
  }, 60_000)
})
