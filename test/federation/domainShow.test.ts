/**
 * `sixchat domain show` through a real process against dnsmasq on loopback (PROTOCOL.md §21).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { DNSMASQ, type Dnsmasq, requireDnsmasqTest, startDnsmasq, startSilentServer } from "../support/dnsmasq.js"
import { records } from "./records.js"

requireDnsmasqTest()

describe.skipIf(DNSMASQ === undefined)("sixchat domain show", () => {
  let dns: Dnsmasq
  beforeAll(async () => {
    dns = await startDnsmasq(records)
  })
  afterAll(async () => {
    await dns?.stop()
  })

  it("prints the SRV targets in order with their ports, priorities, weights, addresses and TTLs", async () => {
    const r = await runCli(["domain", "show", "other.test", "--dns", dns.server])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split("\n")
    expect(lines[0]).toBe("other.test: IRP found through SRV _sixchat-irp._tcp.other.test (answer valid 45 s)")
    // The two priority-10 targets come in a weighted random order; the rest is fixed.
    expect(lines.slice(1, 3).map((l) => l.slice(0, 5))).toEqual(["  1. ", "  2. "])
    expect(
      lines
        .slice(1, 3)
        .map((l) => l.slice(5))
        .sort()
    ).toEqual([
      "irp1.other.test port 4604  priority 10  weight 60  ttl 60 s  addresses ::1 127.0.0.1",
      "irp2.other.test port 4610  priority 10  weight 20  ttl 90 s  addresses 127.0.0.3"
    ])
    expect(lines[3]).toBe(
      "  3. irp3.other.test port 4611  priority 20  weight 0  ttl 30 s  addresses none (no AAAA or A record; skipped)"
    )
    expect(lines[4]).toBe("  4. irp4.other.test port 4612  priority 30  weight 5  ttl 45 s  addresses ::1")
    expect(lines).toHaveLength(5)
  })

  it("--json: one object; the fallback read from SIXCHAT_DNS", async () => {
    const r = await runCli(["domain", "show", "plain.test", "--json"], undefined, { SIXCHAT_DNS: dns.server })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      domain: "plain.test",
      source: "fallback",
      ttlSeconds: 120,
      targets: [
        { host: "irp.plain.test", port: 4604, priority: 0, weight: 0, addresses: ["127.0.0.2"], ttlSeconds: 120 }
      ]
    })
    const text = await runCli(["domain", "show", "plain.test"], undefined, { SIXCHAT_DNS: dns.server })
    expect(text.stdout).toMatch(
      /^plain\.test: no SRV record _sixchat-irp\._tcp\.plain\.test; IRP at the fallback irp\.plain\.test port 4604/
    )
  })

  it("fails with one sentence and its exit code: refusal 1, bad input 2, DNS server down 3", async () => {
    const closed = await runCli(["domain", "show", "closed.test", "--dns", dns.server])
    expect(closed.code).toBe(1)
    expect(closed.stdout).toBe("")
    expect(closed.stderr).toMatch(/closed\.test publishes "\." as the target of _sixchat-irp\._tcp\.closed\.test/)
    const badDns = await runCli(["domain", "show", "other.test", "--dns", "localhost"])
    expect(badDns.code).toBe(2)
    expect(badDns.stderr).toMatch(/--dns "localhost" is not IP:PORT/)
    const badName = await runCli(["domain", "show", "no_such..name", "--dns", dns.server])
    expect(badName.code).toBe(2)
    const silent = await startSilentServer()
    try {
      const down = await runCli(["domain", "show", "other.test", "--dns", silent.server])
      expect(down.code).toBe(3)
      expect(down.stderr).toMatch(/the DNS server did not answer about other\.test within 2 s/)
    } finally {
      await silent.close()
    }
  })
})
