/**
 * Key continuity people can see (issue 10, section 3, and section 2's third bullet), between real
 * `sixchat agent` processes and a real `irp serve`: Dave's key flips key1 -> key2 -> key1 (he enrols
 * again with a new key, then goes back to his old key and certificate). Bob (default mode) sees every
 * change in his agent's log, `contacts`, `contact show` and `history` (text and --json); he accepts
 * key2 (default mode) but never the old key1 coming back. Both sides compute the same safety number,
 * which survives restarts and changes with the key; `contact verify` marks it and the key change
 * drops the mark. Carol (`--strict-keys`) holds every change until `sixchat trust`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Fingerprint } from "../../../src/domain/brands.js"
import {
  type AgentProc,
  call,
  type Domain,
  eventually,
  incomingCounts,
  ok,
  sessionsWith,
  startDomain,
  untilStates
} from "./support.js"

let domain: Domain
let bob: AgentProc
let carol: AgentProc
let dave: AgentProc
let daveHome: string
let key1: Fingerprint
let key2: Fingerprint
let number1: string

const safetyOf = async (agent: AgentProc, peer: AgentProc) => await call(agent, "contact", { peer: peer.handle })

beforeAll(async () => {
  domain = await startDomain()
  // One after the other: each enrolment runs three CLI processes, and the host may be busy.
  const bobHome = await domain.enrol("bob")
  const carolHome = await domain.enrol("carol")
  daveHome = await domain.enrol("dave")
  ;[bob, carol, dave] = await Promise.all([
    domain.startAgent("bob", bobHome),
    domain.startAgent("carol", carolHome, ["--strict-keys"]),
    domain.startAgent("dave", daveHome)
  ])
  const first = await Promise.all([
    call(dave, "send", { peer: bob.handle, body: "hi Bob (key1)" }),
    call(dave, "send", { peer: carol.handle, body: "hi Carol (key1)" })
  ])
  await untilStates(dave, bob.handle, [first[0].id], ["delivered"], [bob, carol, dave])
  await untilStates(dave, carol.handle, [first[1].id], ["delivered"], [bob, carol, dave])
  key1 = (await call(dave, "status", {})).fingerprint
}, 180_000)

afterAll(async () => {
  const codes = await Promise.all([bob, carol, dave].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
  expect(codes.every((c) => c === 0)).toBe(true)
}, 30_000)

describe("key continuity (key1 -> key2 -> key1)", () => {
  it("both sides show the same safety number; contact verify marks it", async () => {
    const [b, d] = await Promise.all([safetyOf(bob, dave), safetyOf(dave, bob)])
    expect(b.safetyNumber).toMatch(/^\d{60}$/)
    expect(d.safetyNumber).toBe(b.safetyNumber)
    number1 = b.safetyNumber!
    expect(b.verified).toBe(false)
    // The per-session code is something else, and named so.
    expect(b.sessionCode).not.toBeNull()
    expect(b.sessionCode!.replace(/ /g, "")).not.toBe(number1)

    const shown = await ok(["contact", "show", "--home", bob.home, dave.handle])
    const groups = number1.match(/.{5}/g)!
    expect(shown).toContain(`safety number: not verified\n  ${groups.slice(0, 4).join(" ")}\n`)
    expect(shown).toMatch(/session code: +\d{4} \d{4} \d{4}/)
    expect(shown).toContain("key change:    none")
    await ok(["contact", "verify", "--yes", "--home", bob.home, dave.handle])
    expect(await ok(["contacts", "--home", bob.home])).toMatch(/dave@example\.org +[0-9a-f]{16}… +verified /)
    expect(await ok(["contact", "show", "--home", bob.home, dave.handle])).toMatch(/safety number: VERIFIED/)
  }, 120_000)

  it("key2: Bob (default) accepts it visibly and the mark drops; Carol (strict) holds it until trust", async () => {
    expect(await dave.stop()).toBe(0)
    const home2 = await domain.enrol("dave", "dave2", { viaIpv6: true })
    dave = await domain.startAgent("dave", home2, ["--irp", domain.irpAddress])
    key2 = (await call(dave, "status", {})).fingerprint
    expect(key2).not.toBe(key1)

    const toBob = await call(dave, "send", { peer: bob.handle, body: "Bob, new key (key2)" })
    const toCarol = await call(dave, "send", { peer: carol.handle, body: "Carol, new key (key2)" })
    await untilStates(dave, bob.handle, [toBob.id], ["delivered"], [bob, dave])

    // The agent's log.
    await eventually("bob's agent to log the key change", () =>
      /warning: dave@example\.org's key changed \([0-9a-f]{16}… -> [0-9a-f]{16}…\); accepted/.test(bob.run.stderr)
        ? true
        : undefined
    )
    // `contacts`: not verified any more, and the change.
    expect(await ok(["contacts", "--home", bob.home])).toMatch(/dave@example\.org +[0-9a-f]{16}… +no +.*key changed /)
    // `contact show`: the change, both keys in the history, a new safety number, the same on both sides.
    const shown = await ok(["contact", "show", "--home", bob.home, dave.handle])
    expect(shown).toMatch(/safety number: not verified/)
    expect(shown).toMatch(/key change: +accepted since/)
    expect(shown).toContain(`  new key:     ${key2.match(/.{4}/g)!.join(" ")}`)
    expect(shown).toContain(`  ${key1.slice(0, 16)}…`)
    expect(shown).toContain(`* ${key2.slice(0, 16)}…`)
    const [b, d] = await Promise.all([safetyOf(bob, dave), safetyOf(dave, bob)])
    expect(b.safetyNumber).not.toBe(number1)
    expect(d.safetyNumber).toBe(b.safetyNumber)
    expect(b.verified).toBe(false)
    expect(b.keys?.map((k) => [k.fingerprint, k.pinned, k.replacedAt !== null])).toEqual([
      [key1, false, true],
      [key2, true, false]
    ])
    // `history`: a system line among the messages, and an object in --json.
    const text = await ok(["history", "--home", bob.home, dave.handle])
    expect(text).toMatch(/\*\*\* dave@example\.org's key changed .*accepted/)
    expect(text).toContain("Bob, new key (key2)")
    const json = JSON.parse(await ok(["history", "--json", "--home", bob.home, dave.handle])) as Array<
      Record<string, unknown>
    >
    expect(json.find((e) => e.kind === "key_change")).toMatchObject({
      peer: dave.handle,
      previous: key1,
      current: key2,
      status: "accepted",
      returning: false
    })

    // Carol, strict: held, nothing delivered, until `sixchat trust`.
    const pending = await eventually(
      "carol's agent to hold key2 as a pending change",
      async () => (await call(carol, "contact", { peer: dave.handle })).pendingKeyChange ?? undefined,
      { agents: [carol, dave] }
    )
    expect(pending).toMatchObject({ previous: key1, current: key2, status: "pending" })
    expect(await incomingCounts(carol, dave.handle, [toCarol.id])).toEqual([0])
    expect(await ok(["contacts", "--home", carol.home])).toMatch(
      /dave@example\.org .*KEY CHANGED, refused until trusted/
    )
    expect(await ok(["history", "--home", carol.home, dave.handle])).toMatch(/\*\*\* .*refused until you trust it/)
    await ok(["trust", "--home", carol.home, dave.handle])
    await untilStates(dave, carol.handle, [toCarol.id], ["delivered"], [carol, dave])
    expect(await incomingCounts(carol, dave.handle, [toCarol.id])).toEqual([1])
  }, 120_000)

  it("key1 again (the old key and certificate): refused by both until trust, and shown everywhere", async () => {
    expect(await dave.stop()).toBe(0)
    dave = await domain.startAgent("dave", daveHome)
    expect((await call(dave, "status", {})).fingerprint).toBe(key1)
    const toBob = await call(dave, "send", { peer: bob.handle, body: "Bob, old key again (key1)" })

    const pending = await eventually(
      "bob's agent to hold the returning key1",
      async () => (await call(bob, "contact", { peer: dave.handle })).pendingKeyChange ?? undefined,
      { agents: [bob, dave] }
    )
    expect(pending).toMatchObject({ previous: key2, current: key1, status: "pending", returning: true })
    // Default mode, yet not re-accepted: no session, nothing delivered, the pin stays key2.
    expect(await sessionsWith(bob, dave.handle)).toEqual([])
    expect(await incomingCounts(bob, dave.handle, [toBob.id])).toEqual([0])
    expect((await call(bob, "contact", { peer: dave.handle })).fingerprint).toBe(key2)
    await eventually("bob's agent to log the returning key", () =>
      /warning: dave@example\.org presented a key they had used before and replaced .*refused until you trust it/.test(
        bob.run.stderr
      )
        ? true
        : undefined
    )
    expect(await ok(["contacts", "--home", bob.home])).toMatch(
      /dave@example\.org .*OLD KEY BACK, refused until trusted/
    )
    const shown = await ok(["contact", "show", "--home", bob.home, dave.handle])
    expect(shown).toMatch(/key change: +PENDING since/)
    expect(shown).toContain("presented a key they had used before and replaced")
    const text = await ok(["history", "--home", bob.home, dave.handle])
    expect(text.match(/\*\*\* dave@example\.org/g)).toHaveLength(2)
    // Dave's side (restarted twice since) computes the number for key1 again, Bob's still for key2:
    // a comparison would show the difference.
    const [b, d] = await Promise.all([safetyOf(bob, dave), safetyOf(dave, bob)])
    expect(d.safetyNumber).toBe(number1)
    expect(b.safetyNumber).not.toBe(number1)

    // Restarting Bob's agent changes nothing: the same number, the change still held.
    expect(await bob.stop()).toBe(0)
    bob = await domain.startAgent("bob", bob.home)
    const after = await safetyOf(bob, dave)
    expect(after.safetyNumber).toBe(b.safetyNumber)
    expect(after.pendingKeyChange).toMatchObject({ current: key1, returning: true })

    // Bob decides Dave really went back: trust, and the queued message arrives; number1 again.
    await ok(["trust", "--home", bob.home, dave.handle])
    const retry = await call(dave, "send", { peer: bob.handle, body: "Bob, trusted again" })
    await untilStates(dave, bob.handle, [toBob.id, retry.id], ["delivered"], [bob, dave])
    expect((await safetyOf(bob, dave)).safetyNumber).toBe(number1)
    // Carol (strict) holds it too.
    const toCarol = await call(dave, "send", { peer: carol.handle, body: "Carol, old key again" })
    const held = await eventually(
      "carol's agent to hold the returning key1",
      async () => (await call(carol, "contact", { peer: dave.handle })).pendingKeyChange ?? undefined,
      { agents: [carol, dave] }
    )
    expect(held).toMatchObject({ current: key1, returning: true })
    expect(await incomingCounts(carol, dave.handle, [toCarol.id])).toEqual([0])
  }, 120_000)
})
