/**
 * `sixchat doctor` (issue 13 §5) through the built binary against a real IRP and an enrolled home on
 * loopback: every check with its level, the agent seen through its socket, a key file others can read
 * (exit 1), a home that is not there, and an unreachable IRP as the only failure (exit 3). The domain
 * issues 3-day certificates, so the expiry warning (within 7 days) shows too.
 */
import { chmodSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Domain, startDomain } from "../agent/processes/support.js"
import { runCli } from "../support/cli.js"

interface Report {
  readonly home: string
  readonly checkedAt: string
  readonly exitStatus: number
  readonly checks: ReadonlyArray<{ readonly name: string; readonly level: string; readonly message: string }>
}

const doctor = async (home: string) => {
  const r = await runCli(["doctor", "--home", home, "--json"])
  const report = JSON.parse(r.stdout) as Report
  const levels = Object.fromEntries(report.checks.map((c) => [c.name, c.level]))
  const message = (name: string) => report.checks.find((c) => c.name === name)?.message ?? ""
  return { code: r.code, stderr: r.stderr, report, levels, message }
}

describe("sixchat doctor (processes)", () => {
  let domain: Domain
  let home = ""
  beforeAll(async () => {
    domain = await startDomain({ config: { clientValiditySeconds: 3 * 86_400 } })
    home = await domain.enrol("alice")
  }, 120_000)
  afterAll(async () => {
    await domain?.cleanup()
  })

  it("an enrolled home with no agent: no failure, exit 0; warnings for the agent, the registration and a certificate ending within 7 days", async () => {
    const d = await doctor(home)
    expect(d.code, d.stderr).toBe(0)
    expect(d.report.exitStatus).toBe(0)
    expect(d.report.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(d.levels).toEqual({
      home: "ok",
      "key-mode": "ok",
      "file-modes": "ok",
      identity: "ok",
      certificate: "warn",
      ca: "ok",
      agent: "warn",
      irp: "ok",
      clock: "ok",
      registration: "warn"
    })
    expect(d.message("certificate")).toMatch(/^expires \S+Z \(in \d+ h\): keep the agent running/)
    expect(d.message("clock")).toMatch(
      /^this clock is \d+\.\d s (ahead of|behind) the IRP's \(±\d+ ms, from the signing time/
    )
    expect(d.message("irp")).toContain(`${domain.irpAddress} answered and proved it is irp.example.org`)
    expect(d.message("agent")).toContain(`sixchat agent --home ${home}`)

    const text = await runCli(["doctor", "--home", home])
    expect(text.code).toBe(0)
    expect(text.stdout.trim().split("\n")).toHaveLength(10)
    expect(text.stdout).toMatch(/^ok {4}key-mode {6}\S+key\.pem is mode 0600$/m)
  })

  it("with the agent running: agent and registration from it; a key others can read fails with exit 1 and the chmod to run", async () => {
    const agent = await domain.startAgent("alice", home)
    try {
      const good = await doctor(home)
      expect([good.code, good.levels.agent, good.levels.registration]).toEqual([0, "ok", "ok"])
      expect(good.message("registration")).toMatch(/^registered at 127\.0\.0\.1:\d+ until /)

      chmodSync(join(home, "key.pem"), 0o644)
      const bad = await runCli(["doctor", "--home", home])
      expect(bad.code).toBe(1)
      expect(bad.stdout).toContain(
        `fail  key-mode      ${join(home, "key.pem")} is mode 0644, readable by others: run \`chmod 600 ${join(home, "key.pem")}\``
      )
      expect(bad.stderr).toBe("sixchat: a check failed (key-mode): fix what the lines above say\n")
    } finally {
      chmodSync(join(home, "key.pem"), 0o600)
      await agent.stop()
    }
  })

  it("a home that is not there fails the first check, exit 1", async () => {
    const d = await doctor(join(domain.root, "nobody"))
    expect(d.code).toBe(1)
    expect(d.levels.home).toBe("fail")
    expect(d.message("home")).toMatch(/does not exist: create an identity with `sixchat id new/)
  })

  it("the IRP stopped: irp fails as unreachable, the clock and registration are not checked, exit 3", async () => {
    await domain.stopIrp()
    const d = await doctor(home)
    expect(d.code).toBe(3)
    expect(d.report.exitStatus).toBe(3)
    expect([d.levels.irp, d.levels.clock, d.levels.registration, d.levels.ca]).toEqual(["fail", "warn", "warn", "ok"])
    expect(d.message("irp")).toMatch(new RegExp(`^the IRP at ${domain.irpAddress} cannot be reached`))
    expect(d.message("clock")).toBe("not checked: the IRP could not be reached")
    // JSON mode: the failure is in the object, not repeated on stderr.
    expect(d.stderr).toBe("")
  })
})
