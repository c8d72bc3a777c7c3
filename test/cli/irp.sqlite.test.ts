/**
 * IRP issue sections 4 and 5 through the built binary on SQLite (the file in DIR): the operator + user
 * flow, the request log, and the failures a user meets, each one stderr line with its own exit code.
 */
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { makeTestPki } from "../support/identities.js"
import { enrolUser, ok, operatorAndUserFlow, serve, type Workspace, workspace } from "./irpFlow.js"

const workspaces: Array<Workspace> = []
const fresh = () => {
  const ws = workspace()
  workspaces.push(ws)
  return ws
}
afterAll(() => {
  for (const ws of workspaces) ws.cleanup()
})

/** A failed run: its exit code and its one stderr line. */
const failure = async (args: ReadonlyArray<string>) => {
  const r = await runCli(args)
  const lines = r.stderr.trim().split("\n")
  expect(lines, r.stderr).toHaveLength(1)
  return { code: r.code, line: lines[0]! }
}

describe("sixchat irp serve + id enroll + register + lookup + revoke (SQLite, processes)", () => {
  it("an operator stands up a domain and two users enrol, register, look up and revoke; SIGTERM exits 0", async () => {
    const log = await operatorAndUserFlow(fresh(), [], "text")
    const lines = log.split("\n").filter((l) => l.includes(" irp request "))
    // One line per request: time, level, message, then request and outcome first.
    for (const line of lines)
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO irp request request=\w+ outcome=\w+ peer=\S+ remote=\S+/)
    const seen = lines.map((l) => /request=(\w+) outcome=(\w+)/.exec(l)!.slice(1).join(":"))
    expect(seen).toEqual(expect.arrayContaining(["Enroll:ok", "Register:ok", "Lookup:ok", "Revoke:ok", "Ping:ok"]))
    expect(seen.filter((s) => s === "Enroll:ok")).toHaveLength(2)
  })

  it("refusals and failures: one line each, exit 1 refused, 2 usage, 3 unreachable, 4 local state; JSON log; SIGINT exits 0", async () => {
    const ws = fresh()
    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    const served = await serve(ws.dir, ["--log-format", "json"])
    const other = makeTestPki("Another Domain CA")
    try {
      const carol = await enrolUser(ws, served, "carol")
      const dave = join(ws.root, "dave")
      await ok(["id", "new", "--home", dave, "--handle", "dave@example.org"])
      const token = (await ok(["irp", "token", "--dir", ws.dir, "--handle", "dave@example.org"])).trim()
      const enrol = (trust: string, extra: ReadonlyArray<string> = []) =>
        failure(["id", "enroll", "--home", dave, "--irp", served.address, "--token", token, "--trust", trust, ...extra])
      const [anotherCa, unreachable, badAddress, tooShort, noIdentity, inUse, notADomain, badDb] = await Promise.all([
        enrol(other.caPath),
        failure(["register", "--home", carol, "--address", "127.0.0.1:4605", "--irp", "127.0.0.1:1"]),
        failure(["register", "--home", carol, "--address", "localhost"]),
        failure(["register", "--home", carol, "--address", "127.0.0.1:4605", "--ttl", "5"]),
        failure(["register", "--home", join(ws.root, "nobody"), "--address", "127.0.0.1:4605"]),
        failure(["irp", "serve", "--dir", ws.dir, "--listen", served.address]),
        failure(["irp", "serve", "--dir", ws.root, "--listen", "127.0.0.1:0"]),
        failure(["irp", "serve", "--dir", ws.dir, "--listen", "127.0.0.1:0", "--db", "mysql://x"])
      ])
      // An IRP certificate from another domain's CA is refused by the client (issue 3, section 5).
      expect(anotherCa.code).toBe(1)
      expect(anotherCa.line).toMatch(/presented a certificate we do not accept.*--trust/)
      expect(unreachable).toMatchObject({ code: 3, line: expect.stringMatching(/Cannot reach .*127\.0\.0\.1:1/) })
      expect(badAddress).toMatchObject({ code: 2, line: expect.stringMatching(/is not IP:PORT/) })
      expect(tooShort).toMatchObject({ code: 1, line: expect.stringMatching(/lease_too_short.*at least 30 s/) })
      expect(noIdentity).toMatchObject({ code: 4, line: expect.stringMatching(/no identity in .*sixchat id new/) })
      expect(inUse).toMatchObject({
        code: 4,
        line: expect.stringMatching(/another program \(another IRP server\?\) uses the port/)
      })
      expect(notADomain).toMatchObject({ code: 4, line: expect.stringMatching(/sixchat irp init/) })
      expect(badDb).toMatchObject({ code: 2, line: expect.stringMatching(/is not a database/) })

      // The token survived the refused attempts (they never reached Enroll): it works once, then never again.
      await ok(
        ["id", "enroll", "--home", dave, "--irp", served.address, "--token", "-", "--trust", join(ws.dir, "ca.pem")],
        token
      )
      const reused = await enrol(join(ws.dir, "ca.pem"))
      expect(reused).toMatchObject({ code: 1, line: expect.stringMatching(/token_invalid.*already used/) })

      // A registered address that is not the one the server saw: NAT suspected.
      const nat = await ok([
        "register",
        "--home",
        dave,
        "--address",
        "192.0.2.7:4605",
        "--address",
        "[2001:db8::7]:4605"
      ])
      expect(nat).toMatch(/warning: NAT suspected: the server saw this device at 127\.0\.0\.1/)
      const seen = await ok(["lookup", "--home", carol, "dave@example.org"])
      expect(seen).toMatch(/^dave@example\.org: good\n/)
      expect(seen).toMatch(/ 192\.0\.2\.7:4605 \[2001:db8::7\]:4605 {2}expires /)
    } finally {
      served.process.child.kill("SIGINT")
      expect(await served.process.exited).toBe(0)
    }
    const records = served.process.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const requests = records.filter((r) => r.message === "irp request")
    expect(requests.length).toBeGreaterThanOrEqual(8)
    for (const r of requests) {
      expect(r).toMatchObject({ level: "INFO", request: expect.any(String), outcome: expect.any(String) })
      expect(Date.parse(r.time as string)).not.toBeNaN()
    }
    expect(requests.map((r) => `${r.request}:${r.outcome}`)).toEqual(
      expect.arrayContaining(["Enroll:ok", "Enroll:token_invalid", "Register:lease_too_short", "Register:ok"])
    )
  })
})
