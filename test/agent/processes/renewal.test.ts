/**
 * The agent renews its own certificate before it expires (issue 10 §2; PROTOCOL.md 17.4.8), real
 * processes: a domain whose irp.json issues client certificates for 45 s (`clientValiditySeconds`),
 * agents for bob and carol. Bob's agent must renew at 2/3 of the lifetime (Renew, same key), store the
 * new chain in cert.pem, and present it from then on: once the first certificate has EXPIRED, a new
 * session with carol still comes up and delivers, and `lookup` names the new serial.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { certificateIdentity } from "../../../src/domain/cert/identity.js"
import { pemDecode } from "../../../src/domain/pem.js"
import { type AgentProc, call, type Domain, eventually, ok, startDomain, untilStates } from "./support.js"

let domain: Domain
let bob: AgentProc
let carol: AgentProc
let bobHome: string

const leafOf = (home: string) => {
  const leaf = certificateIdentity(pemDecode(readFileSync(join(home, "cert.pem"), "utf8"), "CERTIFICATE")[0]!)
  if (leaf === undefined) throw new Error(`${home}/cert.pem does not parse`)
  return leaf
}

beforeAll(async () => {
  domain = await startDomain({ config: { clientValiditySeconds: 45 } })
  const homes = await Promise.all(["bob", "carol"].map((n) => domain.enrol(n)))
  bobHome = homes[0]!
  ;[bob, carol] = await Promise.all([domain.startAgent("bob", homes[0]!), domain.startAgent("carol", homes[1]!)])
}, 60_000)

afterAll(async () => {
  await Promise.all([bob, carol].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
}, 30_000)

describe("renewal before expiry", () => {
  it("renews at 2/3 of the lifetime, stores it, and presents it after the old one expired", async () => {
    const first = leafOf(bobHome)
    const lifetime = first.notAfter.getTime() - first.notBefore.getTime()
    expect(lifetime).toBeLessThanOrEqual((45 + 300) * 1000)
    // Renewed before the first certificate expires, and stored in the home.
    const renewed = await eventually(
      "bob's agent to renew its certificate",
      () => {
        const leaf = leafOf(bobHome)
        return leaf.serial !== first.serial ? leaf : undefined
      },
      { agents: [bob, carol], timeoutMs: 60_000, everyMs: 200 }
    )
    expect(Date.now()).toBeLessThan(first.notAfter.getTime())
    expect(renewed.fingerprint).toBe(first.fingerprint)
    expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime())
    await eventually("bob's agent to say so", () =>
      bob.run.stdout.includes(`certificate renewed: serial ${renewed.serial}`) ? true : undefined
    )

    // Wait until the first certificate has expired: a new session must then present a renewed one.
    await eventually(
      "the first certificate to expire",
      () => (Date.now() > first.notAfter.getTime() + 500 ? true : undefined),
      {
        timeoutMs: 60_000,
        everyMs: 200
      }
    )
    const m = await call(bob, "send", { peer: carol.handle, body: "sent after my first certificate expired" })
    const [delivered] = await untilStates(bob, carol.handle, [m.id], ["delivered"], [bob, carol]).catch((e) => {
      console.error(bob.run.stdout, bob.run.stderr, carol.run.stdout, carol.run.stderr)
      throw e
    })
    expect(delivered!.state).toBe("delivered")
    const lookup = await ok(["lookup", "--home", bobHome, "--irp", domain.irpAddress, bob.handle])
    const current = leafOf(bobHome)
    expect(lookup).toContain(`serial ${current.serial}`)
    expect(lookup).not.toContain(`serial ${first.serial}`)
  }, 150_000)
})
