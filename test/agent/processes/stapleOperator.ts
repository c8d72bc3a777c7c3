/**
 * The operator revokes Carol while Bob does not watch her (issue 10, section 2; PROTOCOL.md §13.6.3):
 * Bob closes her live session and refuses new ones within one staple lifetime, on whichever storage
 * the IRP runs (`irp revoke` is another process writing the same database). Shared by the SQLite and
 * PostgreSQL files.
 */
import { expect } from "vitest"
import { dialWith, fetchStaple, incomingBodies, liveSession, rememberAddress } from "./stapleSupport.js"
import {
  type AgentProc,
  call,
  type Domain,
  eventually,
  handleOf,
  ok,
  sessionsWith,
  startDomain,
  untilStates
} from "./support.js"

export const LIFETIME_S = 8

export interface OperatorWorld {
  readonly domain: Domain
  readonly bob: AgentProc
  readonly carolHome: string
  readonly stop: () => Promise<void>
}

export const setUp = async (irpConfig: Readonly<Record<string, unknown>> = {}): Promise<OperatorWorld> => {
  const domain = await startDomain({ irpConfig: { stapleLifetimeSeconds: LIFETIME_S, ...irpConfig } })
  const agents: Array<AgentProc> = []
  try {
    const bobHome = await domain.enrol("bob")
    const carolHome = await domain.enrol("carol")
    const [bob, carol] = await Promise.all([domain.startAgent("bob", bobHome), domain.startAgent("carol", carolHome)])
    agents.push(bob!, carol!)
    rememberAddress(bob!, (await call(bob!, "status", {})).listening[0]!)
    // Carol writes first; Bob never writes to her, so he does not watch her (PROTOCOL.md §17.7).
    const first = await call(carol!, "send", { peer: bob!.handle, body: "hi bob" })
    await untilStates(carol!, bob!.handle, [first.id], ["delivered"], [bob!, carol!])
    expect(await carol!.stop()).toBe(0)
    return {
      domain,
      bob: bob!,
      carolHome,
      stop: async () => {
        await Promise.all(agents.map((a) => a.stop()))
        await domain.cleanup()
      }
    }
  } catch (e) {
    await domain.cleanup()
    throw e
  }
}

/** Revokes Carol (operator) and measures when Bob closes her live session and refuses a new one. */
export const operatorRevokesCarol = async (w: OperatorWorld, label: string) => {
  const { domain, bob, carolHome } = w
  // The last staple the IRP signed for Carol before her revocation (the worst case for Bob), and a
  // live session that presents it, opened before the revocation.
  const lastStaple = await fetchStaple(carolHome)
  expect(lastStaple).toBeDefined()
  const live = liveSession(domain, bob, carolHome, lastStaple!)
  await eventually("carol's live session with bob", async () =>
    (await sessionsWith(bob, handleOf("carol"))).length === 1 ? true : undefined
  )

  const revokedAt = Date.now()
  await ok(["irp", "revoke", "--dir", domain.dir, "--handle", handleOf("carol"), "--reason", "keyCompromise"])
  // Bob closes the live session: at once when the pushed revocation reaches him (he watches the peer
  // of every live session, PROTOCOL.md 17.9.3: a sealed certificate_revoked alert), at the latest when
  // the staple that admitted it runs out (13.6.3: `<Close reason="certificate_revoked">`).
  const liveEnd = await live
  expect(liveEnd.stderr).toMatch(/certificate_revoked/)
  expect(bob.run.stderr).toMatch(
    /closing the session with carol@example.org: .*revoked|carol@example.org's certificate \w+ was revoked; the session is closed/
  )
  expect(liveEnd.at - revokedAt).toBeLessThan((LIFETIME_S + 30) * 1000)
  // A new connection with the same (now stale) staple is refused, and nothing of hers gets in.
  const again = await dialWith(domain, bob, carolHome, "carol after the refusal", lastStaple)
  const refusedAt = Date.now()
  expect(again.stderr).toMatch(/certificate_revoked/)
  expect(await incomingBodies(bob, "carol")).not.toContain("carol after the refusal")
  expect(await incomingBodies(bob, "carol")).toContain("hi bob")
  process.stderr.write(
    `${label}: revocation -> bob closed carol's live session after ${liveEnd.at - revokedAt} ms; a new connection was refused (ended ${refusedAt - revokedAt} ms after the revocation); staple lifetime ${LIFETIME_S} s\n`
  )
}
