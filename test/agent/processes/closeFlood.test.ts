/**
 * Issue 10 §1 and §4 against a real `sixchat agent` process (with its real IRP, loopback):
 *
 * * 500 connections closed at random points of the handshake (right after connect, after a partial
 *   frame, after the first handshake message, with a reset) leave no descriptor behind: the agent's
 *   `/proc/<pid>/fd` count is back to its baseline within seconds (PROTOCOL.md §11.9; the transport's
 *   graceful release).
 * * During a flood of 500 idle connections from 127.0.0.2, real peers on 127.0.0.1 still complete their
 *   handshakes (`sixchat peer connect` as carol) and bob's agent delivers a message (PROTOCOL.md §15.7:
 *   per-source handshake cap, fair admission, handshake deadline from accept, §6.7).
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "../../support/cli.js"
import { closeStorm, fdCount, fdsSettle, idleFlood, openAndClose } from "../../support/storm.js"
import { type AgentProc, call, type Domain, ok, startDomain, untilStates } from "./support.js"

let domain: Domain
let alice: AgentProc
let bob: AgentProc
let carolHome: string
let port: number

beforeAll(async () => {
  domain = await startDomain()
  // One after the other: on a loaded machine parallel enrolments run into the CLI helper's time limit.
  const aliceHome = await domain.enrol("alice")
  const bobHome = await domain.enrol("bob")
  carolHome = await domain.enrol("carol")
  ;[alice, bob] = await Promise.all([domain.startAgent("alice", aliceHome), domain.startAgent("bob", bobHome)])
  const status = await call(alice, "status", {})
  port = status.registered.find((a) => a.host === "127.0.0.1")!.port
}, 120_000)

afterAll(async () => {
  const codes = await Promise.all([alice, bob].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
  expect(codes.every((c) => c === 0)).toBe(true)
}, 40_000)

const failures: Array<string> = []
/** A real peer's handshake with alice's agent (carol, its own process, from 127.0.0.1), then a clean close. */
const handshake = async () => {
  const r = await runCli([
    "peer",
    "connect",
    "--key",
    join(carolHome, "key.pem"),
    "--cert",
    join(carolHome, "cert.pem"),
    "--trust",
    join(carolHome, "ca.pem"),
    "--expect",
    alice.handle,
    `127.0.0.1:${port}`
  ])
  const ok = r.code === 0 && r.stderr.includes(`peer=${alice.handle}`)
  if (!ok) failures.push(`exit ${r.code}: ${r.stderr.trim()}`)
  return ok
}

describe("sixchat agent under abuse (issue 10)", () => {
  it("a storm of 500 connections closed mid-handshake leaves the descriptor count at its baseline", async () => {
    expect(await handshake()).toBe(true)
    for (let i = 0; i < 10; i++) await openAndClose("127.0.0.1", port, "afterHello")
    await new Promise((r) => setTimeout(r, 2500))
    const baseline = fdCount(alice.pid)
    const sources = Array.from({ length: 4 }, (_, i) => `127.0.0.${20 + i}`)
    const counts = await closeStorm("127.0.0.1", port, 500, { concurrency: 16, sources })
    const peak = fdCount(alice.pid)
    const after = await fdsSettle(alice.pid, baseline + 5, 15_000)
    console.log(`FIGURES agent close storm: fds baseline ${baseline}, right after ${peak}, settled ${after}`, counts)
    expect(after).toBeLessThanOrEqual(baseline + 5)
    expect(await handshake()).toBe(true)
  }, 60_000)

  it("500 idle connections from 127.0.0.2 lock out neither a handshake nor a delivery from 127.0.0.1", async () => {
    const baseline = fdCount(alice.pid)
    const flood = idleFlood("127.0.0.1", port, "127.0.0.2", { target: 500, perSecond: 100, maxOpened: 3000 })
    try {
      const deadline = Date.now() + 10_000
      while (flood.opened() < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      // Bob's agent dials alice's (a new session: none exists yet) and delivers.
      const id = (await ok(["send", "--home", bob.home, alice.handle, "through the flood"])).trim()
      const attempts = 6
      let completed = 0
      for (let i = 0; i < attempts; i += 2)
        completed += (await Promise.all([handshake(), handshake()])).filter((ok) => ok).length
      const delivered = await untilStates(bob, alice.handle, [id], ["delivered", "read"], [alice, bob], 20_000)
      while (Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 100))
      const held = flood.serverClosedAfterMs
      console.log(
        `FIGURES agent flood: ${completed}/${attempts} peer handshakes completed, bob's message ${delivered[0]?.state}; ` +
          `flood opened ${flood.opened()}, open at the end ${flood.open()}, closed by the agent ${held.length} ` +
          `(longest held ${Math.max(0, ...held)} ms)`
      )
      expect({ completed, failures }).toEqual({ completed: attempts, failures: [] })
      expect(flood.opened()).toBeGreaterThanOrEqual(500)
      expect(held.length).toBeGreaterThan(0)
      // §6.7: no idle connection outlives the 10 s handshake deadline by more than a loaded machine's slack.
      expect(Math.max(...held)).toBeLessThan(20_000)
    } finally {
      await flood.stop()
    }
    expect(await fdsSettle(alice.pid, baseline + 5, 15_000)).toBeLessThanOrEqual(baseline + 5)
  }, 60_000)
})
