/**
 * Two and three agents as real processes with a real IRP (issue 4, section 6): messages both ways
 * with delivery and read receipts, simultaneous dials that end in one session, and three agents each
 * writing to the other two, every message stored once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type AgentProc,
  call,
  type Domain,
  eventually,
  history,
  incomingCounts,
  ok,
  sessionsWith,
  startDomain,
  untilStates
} from "./support.js"

let domain: Domain
let alice: AgentProc
let bob: AgentProc
let carol: AgentProc
let all: ReadonlyArray<AgentProc>

beforeAll(async () => {
  domain = await startDomain()
  const homes = await Promise.all(["alice", "bob", "carol"].map((name) => domain.enrol(name)))
  all = await Promise.all(["alice", "bob", "carol"].map((name, i) => domain.startAgent(name, homes[i]!)))
  ;[alice, bob, carol] = all as [AgentProc, AgentProc, AgentProc]
}, 60_000)

afterAll(async () => {
  const codes = await Promise.all(all.map((a) => a.stop()))
  await domain.cleanup()
  // Every agent stopped cleanly on SIGTERM.
  expect(codes).toEqual([0, 0, 0])
}, 30_000)

describe("agents in real processes on loopback", () => {
  it("two agents: send and receive both ways; delivered, then read once marked", async () => {
    const toBob = await call(alice, "send", { peer: bob.handle, body: "Hello Bob, from Alice's process" })
    expect(toBob.state).toBe("queued")
    // The other way through the people command (`sixchat send` prints the id once it is in the outbox).
    const toAliceId = (await ok(["send", "--home", bob.home, alice.handle, "Hello Alice, from Bob's process"])).trim()
    expect(toAliceId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)

    await untilStates(alice, bob.handle, [toBob.id], ["delivered", "read"], all)
    await untilStates(bob, alice.handle, [toAliceId], ["delivered", "read"], all)

    const atBob = (await history(bob, alice.handle)).filter((m) => m.direction === "in")
    expect(atBob.map((m) => [m.id, m.body, m.state])).toEqual([
      [toBob.id, "Hello Bob, from Alice's process", "received"]
    ])
    const atAlice = JSON.parse(await ok(["history", "--home", alice.home, bob.handle, "--json"])) as Array<{
      id: string
      direction: string
      body: string
      state: string
    }>
    expect(atAlice.filter((m) => m.direction === "in").map((m) => [m.id, m.body])).toEqual([
      [toAliceId, "Hello Alice, from Bob's process"]
    ])
    expect(atAlice.find((m) => m.id === toBob.id)?.state).toMatch(/^(delivered|read)$/)

    // Bob reads the conversation: his agent sends <Read>, Alice's message becomes "read".
    expect((await call(bob, "markRead", { peer: alice.handle })).count).toBe(1)
    await untilStates(alice, bob.handle, [toBob.id], ["read"], all)
    expect((await history(bob, alice.handle)).find((m) => m.id === toBob.id)?.state).toBe("read")

    // One session each way round, the same one: equal verification codes.
    const [a, b] = [await sessionsWith(alice, bob.handle), await sessionsWith(bob, alice.handle)]
    expect([a.length, b.length]).toEqual([1, 1])
    expect(a[0]!.sessionCode).toBe(b[0]!.sessionCode)
    expect([a[0]!.role, b[0]!.role].sort()).toEqual(["initiator", "responder"])
  })

  it("simultaneous dials: both write at the same moment without a session; both delivered, one session", async () => {
    expect(await sessionsWith(bob, carol.handle)).toEqual([])
    expect(await sessionsWith(carol, bob.handle)).toEqual([])
    const [fromBob, fromCarol] = await Promise.all([
      call(bob, "send", { peer: carol.handle, body: "Bob dials Carol" }),
      call(carol, "send", { peer: bob.handle, body: "Carol dials Bob" })
    ])
    await Promise.all([
      untilStates(bob, carol.handle, [fromBob.id], ["delivered"], all),
      untilStates(carol, bob.handle, [fromCarol.id], ["delivered"], all)
    ])
    expect(await incomingCounts(carol, bob.handle, [fromBob.id])).toEqual([1])
    expect(await incomingCounts(bob, carol.handle, [fromCarol.id])).toEqual([1])

    // The duplicate connection (if both dials got through) is closed: each side keeps the same single session.
    const settled = await eventually(
      "bob and carol to report one and the same session",
      async () => {
        const [b, c] = [await sessionsWith(bob, carol.handle), await sessionsWith(carol, bob.handle)]
        return b.length === 1 && c.length === 1 && b[0]!.sessionCode === c[0]!.sessionCode
          ? { b: b[0]!, c: c[0]! }
          : undefined
      },
      { agents: all }
    )
    expect([settled.b.role, settled.c.role].sort()).toEqual(["initiator", "responder"])
  })

  it("three agents: each writes to the other two; every message delivered, and stored once", async () => {
    const pairs = all.flatMap((from) => all.filter((to) => to !== from).map((to) => [from, to] as const))
    const sent = await Promise.all(
      pairs.map(async ([from, to]) => ({
        from,
        to,
        message: await call(from, "send", { peer: to.handle, body: `${from.name} to ${to.name}, 3-way` })
      }))
    )
    await Promise.all(
      sent.map(({ from, to, message }) => untilStates(from, to.handle, [message.id], ["delivered"], all))
    )
    for (const { from, to, message } of sent) {
      const got = (await history(to, from.handle)).filter((m) => m.direction === "in" && m.id === message.id)
      expect(got.map((m) => m.body)).toEqual([`${from.name} to ${to.name}, 3-way`])
    }
    // No duplicate anywhere: each agent's whole incoming history holds every id once.
    for (const agent of all) {
      const incoming = (await call(agent, "history", { limit: 1000 })).filter((m) => m.direction === "in")
      for (const { message } of sent.filter((s) => s.to === agent))
        expect(incoming.filter((m) => m.id === message.id)).toHaveLength(1)
      expect(new Set(incoming.map((m) => m.id)).size).toBe(incoming.length)
    }
    // Every pair holds exactly one session, seen the same from both ends.
    for (const [x, y] of pairs) {
      const [s, t] = [await sessionsWith(x, y.handle), await sessionsWith(y, x.handle)]
      expect([s.length, t.length]).toEqual([1, 1])
      expect(s[0]!.sessionCode).toBe(t[0]!.sessionCode)
    }
  })
})
