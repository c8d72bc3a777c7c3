/**
 * Crashes of real agent processes (issue 4, section 6: "kill -9 of the receiving agent mid-stream
 * loses nothing and duplicates nothing; kill -9 of the sender resends after restart"). The agents
 * restart on the same home (the stale lock and control socket of the killed process are taken over),
 * on a new port that the IRP tells the peer about.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type AgentProc,
  type Domain,
  history,
  incomingCounts,
  startDomain,
  subscribe,
  untilStates,
  withClient
} from "./support.js"

let domain: Domain
let alice: AgentProc
let bob: AgentProc

beforeAll(async () => {
  domain = await startDomain()
  const [aliceHome, bobHome] = await Promise.all([domain.enrol("alice"), domain.enrol("bob")])
  ;[alice, bob] = await Promise.all([domain.startAgent("alice", aliceHome), domain.startAgent("bob", bobHome)])
}, 60_000)

afterAll(async () => {
  const codes = await Promise.all([alice, bob].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
  expect(codes).toEqual([0, 0])
}, 30_000)

/** Sends `bodies` to `peer` one after the other on one control connection; `onSent` sees each id as it returns. */
const sendAll = (from: AgentProc, to: AgentProc, bodies: ReadonlyArray<string>, onSent?: (id: string) => void) =>
  withClient(from, (client) =>
    Effect.forEach(bodies, (body) =>
      Effect.map(client.call("send", { peer: to.handle, body }), (m) => {
        onSent?.(m.id)
        return m.id
      })
    )
  )

describe("kill -9 of an agent process", () => {
  it("of the receiver while the sender streams 200 messages: after its restart every id is there exactly once, in order, all delivered", async () => {
    const N = 200
    const KILL_AFTER = 20
    const sent: Array<string> = []
    let received = 0
    let killed: { readonly sent: number; readonly received: number } | undefined
    // Killed from the event callback itself: the very moment Bob's agent has stored its 20th message.
    const events = await subscribe(bob, (event) => {
      if (event._tag !== "agent.MessageAdded" || event.message.direction !== "in") return
      received++
      if (received === KILL_AFTER && killed === undefined) {
        bob.signal("SIGKILL")
        killed = { sent: sent.length, received }
      }
    })
    const bodies = Array.from({ length: N }, (_, i) => `stream ${i + 1}/${N}`)
    const ids = await sendAll(alice, bob, bodies, (id) => sent.push(id))
    await bob.run.exited
    await events.close()
    expect(killed).toBeDefined()
    expect(bob.run.child.signalCode).toBe("SIGKILL")
    // Bob died mid-stream: most of the stream had not reached him.
    expect(killed!.received).toBeLessThan(N)
    const before = await history(alice, bob.handle)
    expect(before.filter((m) => ids.includes(m.id) && m.state === "delivered").length).toBeLessThan(N)

    bob = await domain.startAgent("bob", bob.home)
    await untilStates(alice, bob.handle, ids, ["delivered"], [alice, bob], 60_000)
    expect(await incomingCounts(bob, alice.handle, ids)).toEqual(ids.map(() => 1))
    const inbox = (await history(bob, alice.handle)).filter((m) => m.direction === "in")
    // Nothing else, nothing twice, in the order Alice wrote them.
    expect(inbox.map((m) => m.id)).toEqual(ids)
    expect(inbox.map((m) => m.body)).toEqual(bodies)
    const status = await withClient(alice, (c) => c.call("status", {}))
    expect(status.outbox).toBe(0)
  }, 90_000)

  it("of the sender right after `send` returned (receiver frozen, nothing delivered): after its restart all are resent and arrive exactly once", async () => {
    const N = 20
    // Bob's process is frozen (SIGSTOP): Alice's agent may write to the session, but nothing can be acknowledged.
    bob.signal("SIGSTOP")
    const ids = await sendAll(
      alice,
      bob,
      Array.from({ length: N }, (_, i) => `before the crash ${i + 1}/${N}`)
    )
    const pending = (await history(alice, bob.handle)).filter((m) => ids.includes(m.id))
    expect(pending.map((m) => m.state).filter((s) => s !== "queued" && s !== "sent")).toEqual([])
    expect(pending).toHaveLength(N)
    await alice.kill9()
    expect(alice.run.child.signalCode).toBe("SIGKILL")
    // Bob wakes up: whatever Alice's agent had written before dying reaches him now; his <Ack>s go nowhere.
    bob.signal("SIGCONT")

    alice = await domain.startAgent("alice", alice.home)
    await untilStates(alice, bob.handle, ids, ["delivered"], [alice, bob], 60_000)
    expect(await incomingCounts(bob, alice.handle, ids)).toEqual(ids.map(() => 1))
    const inbox = (await history(bob, alice.handle)).filter((m) => m.direction === "in" && ids.includes(m.id))
    expect(inbox.map((m) => m.id)).toEqual(ids)
  }, 90_000)
})
