/**
 * `sixchat demo` (what `npm start` runs; issue 4, section 5) as a real process: it exits 0 and shows
 * the whole flow: equal session codes, delivered messages, the file's SHA-256, the two messages
 * sent while bob was offline arriving exactly once each after his restart, a clean shutdown, and the
 * temporary directory removed.
 */
import { existsSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { start } from "../support/cli.js"

describe("sixchat demo", () => {
  it("runs the whole flow and exits 0", async () => {
    const run = start(["demo"], { timeoutMs: 90_000 })
    run.child.stdin.end()
    const code = await run.exited
    const out = run.stdout
    expect(code, `stdout:\n${out}\nstderr:\n${run.stderr}`).toBe(0)

    const dir = /all files in (\S+)\)/.exec(out)?.[1]
    expect(dir).toBeDefined()
    expect(existsSync(dir!)).toBe(false)

    // Both agents registered with the IRP, alice found bob there.
    expect(out).toMatch(/\[alice\] registered with irp\.example\.org at /)
    expect(out).toMatch(/\[bob\] registered with irp\.example\.org at /)
    expect(out).toMatch(/bob@example\.org: good, key [0-9a-f]{16}…, at /)

    // The same session code on both sides.
    const aliceCode = /alice sees (\d{4} \d{4} \d{4})/.exec(out)?.[1]
    const bobCode = /bob sees +(\d{4} \d{4} \d{4})/.exec(out)?.[1]
    expect(aliceCode).toBeDefined()
    expect(bobCode).toBe(aliceCode)
    expect(out).toContain("session codes equal")

    // Messages with delivery and read receipts.
    expect(out).toMatch(/alice → bob: "Hi Bob!.*" +\(delivered/)
    expect(out).toMatch(/bob → alice: "Hi Alice!.*" +\(delivered\)/)
    expect(out).toContain(`alice's first message is now "read"`)

    // The file arrived intact.
    const sent = /sent +holiday-photo\.bin +SHA-256 ([0-9a-f]{64})/.exec(out)?.[1]
    const received = /received +bob\/downloads\/holiday-photo\.bin +SHA-256 ([0-9a-f]{64})/.exec(out)?.[1]
    expect(sent).toBeDefined()
    expect(received).toBe(sent)

    // bob's restart: both messages queued while he was away arrive exactly once.
    expect(out).toMatch(/\[bob\] deregistered from irp\.example\.org/)
    expect(out).toMatch(/"Are you there\? \(1\/2\)" +\(queued/)
    expect(out).toContain(`bob has "Are you there? (1/2)" exactly once`)
    expect(out).toContain(`bob has "Call me when you are back. (2/2)" exactly once`)
    expect(out.match(/\[bob\] message from alice@example\.org/g)).toHaveLength(3)

    // A second domain: carol@other.net and alice@example.org across the two IRPs, directly, each way.
    expect(out).toMatch(/\[carol\] registered with irp\.other\.net at /)
    expect(out).toMatch(/alice → carol: "Hi Carol!.*" +\(delivered\)/)
    expect(out).toMatch(/carol → alice: "Hi Alice! other\.net answers example\.org\." +\(delivered\)/)
    expect(out).toMatch(/alice's agent pinned other\.net's CA [0-9a-f]{16}… \(policy open\)/)

    // Clean shutdown.
    expect(out.match(/\[(alice|bob)\] agent stopped/g)).toHaveLength(3)
    expect(out).toMatch(/\[carol\] agent stopped/)
    expect(out).toContain("agents stopped cleanly (exit code 0)")
    expect(out).toMatch(/Demo complete in [\d.]+ s\./)
    expect(run.stderr).toBe("")
  }, 120_000)
})
