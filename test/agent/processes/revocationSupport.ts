/**
 * What the revocation tests share (issue 10 §2): an inbound session with bob, and the time from a
 * revocation (its `revoked_at` as stored) to the moment bob's agent reports the session closed.
 */
import { expect } from "vitest"
import type { AgentEvent } from "../../../src/services/Agent.js"
import { type AgentProc, call, eventually, sessionsWith, subscribe, untilStates } from "./support.js"

/** `peer` dials `bob` with a message, delivered: bob then has an inbound session with `peer`. */
export const inboundSession = async (bob: AgentProc, peer: AgentProc) => {
  const m = await call(peer, "send", { peer: bob.handle, body: `hello ${bob.name}, from ${peer.name}` })
  await untilStates(peer, bob.handle, [m.id], ["delivered"], [bob, peer])
  const sessions = await sessionsWith(bob, peer.handle)
  expect(sessions.length).toBe(1)
  expect(sessions[0]!.role).toBe("responder")
}

/**
 * Runs `revoke`, then waits for bob's `SessionDown` with `peer` (reason `certificate_revoked`) and for
 * `peer`'s own end of it (our alert names the reason); returns the ms from `revokedAt()` (read after
 * `revoke`) to the moment bob's event arrived here.
 */
export const closedAfterRevocation = async (
  bob: AgentProc,
  peer: AgentProc,
  revoke: () => Promise<unknown>,
  revokedAt: () => Promise<number>
): Promise<number> => {
  let closedAt: number | undefined
  let down: AgentEvent | undefined
  const bobEvents = await subscribe(bob, (event) => {
    if (event._tag === "agent.SessionDown" && event.peer === peer.handle && down === undefined) {
      closedAt = Date.now()
      down = event
    }
  })
  const peerEvents = await subscribe(peer)
  try {
    await revoke()
    const at = await revokedAt()
    await eventually(`${bob.name}'s session with ${peer.name} to close`, () => down, { timeoutMs: 10_000, everyMs: 10 })
    expect(down).toMatchObject({ _tag: "agent.SessionDown", peer: peer.handle, reason: "certificate_revoked" })
    const theirs = await eventually(`${peer.name}'s session with ${bob.name} to end`, () =>
      peerEvents.events.find((e) => e._tag === "agent.SessionDown" && e.peer === bob.handle)
    )
    expect(theirs._tag === "agent.SessionDown" && theirs.reason).toContain("certificate_revoked")
    expect(await sessionsWith(bob, peer.handle)).toEqual([])
    return closedAt! - at
  } finally {
    await bobEvents.close()
    await peerEvents.close()
  }
}
