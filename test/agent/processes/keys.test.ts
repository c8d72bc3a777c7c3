/**
 * Key changes between real agent processes (PROTOCOL.md §13; issue 4, sections 1 and 6): Bob
 * re-enrols with a new key (a new home: `id new`, a new token, `id enroll`, the same handle). Alice's
 * agent (default, non-strict) reports the change and keeps delivering; Carol's (`--strict-keys`)
 * refuses every session with the new key until `sixchat trust bob@example.org`, after which the
 * messages queued both ways arrive once each.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Fingerprint } from "../../../src/domain/brands.js"
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
  subscribe,
  untilStates
} from "./support.js"

let domain: Domain
let alice: AgentProc
let carol: AgentProc
let bob: AgentProc
let oldKey: Fingerprint
let newKey: Fingerprint

beforeAll(async () => {
  domain = await startDomain()
  const [aliceHome, bobHome, carolHome] = await Promise.all(["alice", "bob", "carol"].map((n) => domain.enrol(n)))
  ;[alice, bob, carol] = await Promise.all([
    domain.startAgent("alice", aliceHome!),
    domain.startAgent("bob", bobHome!),
    domain.startAgent("carol", carolHome!, ["--strict-keys"])
  ])
  // Both pin Bob's first key.
  const first = await Promise.all([
    call(bob, "send", { peer: alice.handle, body: "hi Alice (old key)" }),
    call(bob, "send", { peer: carol.handle, body: "hi Carol (old key)" })
  ])
  await untilStates(bob, alice.handle, [first[0].id], ["delivered"], [alice, bob, carol])
  await untilStates(bob, carol.handle, [first[1].id], ["delivered"], [alice, bob, carol])
  oldKey = (await call(bob, "status", {})).fingerprint
  expect((await call(alice, "contact", { peer: bob.handle })).fingerprint).toBe(oldKey)
  expect((await call(carol, "contact", { peer: bob.handle })).fingerprint).toBe(oldKey)

  // Bob loses his key: his agent stops (deregisters), he enrols again in a new home, same handle.
  expect(await bob.stop()).toBe(0)
  const newHome = await domain.enrol("bob", "bob2", { viaIpv6: true })
  bob = await domain.startAgent("bob", newHome, ["--irp", domain.irpAddress])
  newKey = (await call(bob, "status", {})).fingerprint
  expect(newKey).not.toBe(oldKey)
}, 90_000)

afterAll(async () => {
  const codes = await Promise.all([alice, bob, carol].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
  expect(codes).toEqual([0, 0, 0])
}, 30_000)

describe("a peer's key changes (re-enrolment, same handle)", () => {
  it("a non-strict agent reports the key change and still delivers", async () => {
    const events = await subscribe(alice)
    const m = await call(bob, "send", { peer: alice.handle, body: "it is me, with a new key" })
    await untilStates(bob, alice.handle, [m.id], ["delivered"], [alice, bob])
    expect(await incomingCounts(alice, bob.handle, [m.id])).toEqual([1])
    const change = await eventually("alice's KeyChanged event", () =>
      events.events.find((e) => e._tag === "agent.KeyChanged")
    )
    await events.close()
    expect(change._tag === "agent.KeyChanged" && change.change).toMatchObject({
      handle: bob.handle,
      previous: oldKey,
      current: newKey,
      status: "accepted"
    })
    const contact = await call(alice, "contact", { peer: bob.handle })
    expect([contact.fingerprint, contact.pendingKeyChange]).toEqual([newKey, null])
    // Non-strict: the change is accepted, not refused, but never silently (issue 10, section 3).
    await eventually("alice's agent to log the key change", () =>
      /warning: bob@example\.org's key changed .*accepted/.test(alice.run.stderr) ? true : undefined
    )
    expect(alice.run.stderr).not.toMatch(/sixchat trust bob@example\.org/)
  })

  it("a strict agent refuses the new key until `sixchat trust`; then the queued messages arrive once", async () => {
    const fromBob = await call(bob, "send", { peer: carol.handle, body: "Carol, it is me, new key" })
    const fromCarol = await call(carol, "send", { peer: bob.handle, body: "Bob, are you there?" })
    // Carol's agent sees the new key (a handshake completed) and holds it as a pending change.
    const pending = await eventually(
      "carol's agent to hold Bob's new key as a pending change",
      async () => (await call(carol, "contact", { peer: bob.handle })).pendingKeyChange ?? undefined,
      { agents: [bob, carol] }
    )
    expect(pending).toMatchObject({ handle: bob.handle, previous: oldKey, current: newKey, status: "pending" })
    expect((await call(carol, "contact", { peer: bob.handle })).fingerprint).toBe(oldKey)
    // Refused: no session, nothing delivered either way.
    expect(await sessionsWith(carol, bob.handle)).toEqual([])
    expect(await incomingCounts(carol, bob.handle, [fromBob.id])).toEqual([0])
    expect(await incomingCounts(bob, carol.handle, [fromCarol.id])).toEqual([0])
    expect((await history(carol, bob.handle)).find((m) => m.id === fromCarol.id)?.state).toMatch(/^(queued|sent)$/)
    await eventually("carol's agent to warn about the new key", () =>
      /warning: bob@example\.org's key changed .*refused until you trust it.*sixchat trust bob@example\.org/.test(
        carol.run.stderr
      )
        ? true
        : undefined
    )

    // Carol compares the safety number and accepts the key with the people command.
    const shown = await ok(["contact", "show", "--home", carol.home, bob.handle])
    expect(shown).toMatch(/key change: +PENDING/)
    expect(shown).toContain(`new key:     ${newKey.match(/.{4}/g)!.join(" ")}`)
    await ok(["trust", "--home", carol.home, bob.handle])
    await Promise.all([
      untilStates(bob, carol.handle, [fromBob.id], ["delivered"], [bob, carol]),
      untilStates(carol, bob.handle, [fromCarol.id], ["delivered"], [bob, carol])
    ])
    expect(await incomingCounts(carol, bob.handle, [fromBob.id])).toEqual([1])
    expect(await incomingCounts(bob, carol.handle, [fromCarol.id])).toEqual([1])
    const contact = await call(carol, "contact", { peer: bob.handle })
    expect([contact.fingerprint, contact.pendingKeyChange]).toEqual([newKey, null])
    expect(await sessionsWith(carol, bob.handle)).toHaveLength(1)
  })
})
