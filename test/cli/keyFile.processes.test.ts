/**
 * A passphrase-protected identity through the built binary against a real IRP server (SQLite): `id new
 * --protect`, `id enroll`, `register`, `lookup`, `id passphrase` (change, then `--remove`), `revoke`, and
 * an agent process that starts with the protected key from SIXCHAT_PASSPHRASE and registers with it.
 */
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli, start } from "../support/cli.js"
import { enrolUser, ok, serve, stop, type Workspace, workspace } from "./irpFlow.js"

const workspaces: Array<Workspace> = []
afterAll(() => {
  for (const ws of workspaces) ws.cleanup()
})

/** Keys written here use N = 2^14, the cheapest a reader accepts. */
const FAST = { SIXCHAT_SCRYPT_LOG2N: "14" }

/** Runs with extra environment; `code` and the single stderr line of a failure. */
const run = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = await runCli(args, undefined, { ...FAST, SIXCHAT_PASSPHRASE: undefined, ...env })
  return { ...r, line: r.stderr.trim() }
}
const must = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = await run(args, env)
  if (r.code !== 0) throw new Error(`sixchat ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

const label = (file: string) => /-----BEGIN ([A-Z ]+)-----/.exec(readFileSync(file, "utf8"))?.[1]
const mode = (file: string) => statSync(file).mode & 0o777

describe("a passphrase-protected identity (processes, SQLite IRP)", () => {
  it("id new --protect, enrol, register, lookup, change and remove the passphrase, revoke; an agent starts with it", async () => {
    const ws = workspace()
    workspaces.push(ws)
    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    const served = await serve(ws.dir)
    try {
      const alice = join(ws.root, "alice")
      const handle = "alice@example.org"
      const keyFile = join(alice, "key.pem")
      const emptyRefused = await run(["id", "new", "--home", alice, "--handle", handle, "--protect"], {
        SIXCHAT_PASSPHRASE: ""
      })
      expect(emptyRefused).toMatchObject({ code: 2, line: expect.stringMatching(/empty passphrase protects nothing/) })
      const created = await must(["id", "new", "--home", alice, "--handle", handle, "--protect"], {
        SIXCHAT_PASSPHRASE: "first passphrase"
      })
      expect(created).toContain("protected by your passphrase")
      expect(label(keyFile)).toBe("SIXCHAT ENCRYPTED PRIVATE KEY")
      expect(mode(keyFile)).toBe(0o600)

      const [token, bob] = await Promise.all([
        ok(["irp", "token", "--dir", ws.dir, "--handle", handle]),
        enrolUser(ws, served, "bob")
      ])
      const enroll = ["id", "enroll", "--home", alice, "--irp", served.address, "--token", token.trim()]
      const trust = ["--trust", join(ws.dir, "ca.pem")]
      // The key is read before the token is used: both refusals leave the token valid.
      const noPassphrase = await run([...enroll, ...trust])
      expect(noPassphrase).toMatchObject({
        code: 4,
        line: expect.stringMatching(/protected by a passphrase: set SIXCHAT_PASSPHRASE/)
      })
      const wrong = await run([...enroll, ...trust], { SIXCHAT_PASSPHRASE: "second passphrase" })
      expect(wrong).toMatchObject({ code: 1, line: expect.stringMatching(/cannot decrypt .*passphrase is wrong/) })
      await must([...enroll, ...trust], { SIXCHAT_PASSPHRASE: "first passphrase" })

      const registered = await must(["register", "--home", alice, "--address", "127.0.0.1:4605"], {
        SIXCHAT_PASSPHRASE: "first passphrase"
      })
      expect(registered).toMatch(/registered alice@example\.org device \S+ at 127\.0\.0\.1:4605/)
      expect(await ok(["lookup", "--home", bob, handle])).toMatch(
        /^alice@example\.org: good\n[\s\S]* 127\.0\.0\.1:4605 /
      )

      // A new passphrase: the old one no longer opens the key, the new one does.
      const changed = await must(["id", "passphrase", "--home", alice], {
        SIXCHAT_PASSPHRASE: "first passphrase",
        SIXCHAT_NEW_PASSPHRASE: "second passphrase"
      })
      expect(changed).toContain("protected by the new passphrase (scrypt N = 2^14")
      expect(mode(keyFile)).toBe(0o600)
      const stale = await run(["lookup", "--home", alice, "bob@example.org"], {
        SIXCHAT_PASSPHRASE: "first passphrase"
      })
      expect(stale.code).toBe(1)
      expect(
        await must(["lookup", "--home", alice, "bob@example.org"], { SIXCHAT_PASSPHRASE: "second passphrase" })
      ).toMatch(/^bob@example\.org: good\n/)

      // The agent loads the protected key and registers with it (its listening address replaces 4605).
      const agent = start(["agent", "--home", alice, "--listen", "127.0.0.1:0"], {
        env: { SIXCHAT_PASSPHRASE: "second passphrase" },
        timeoutMs: 60_000
      })
      agent.child.stdin.end()
      try {
        const port = (await agent.waitFor(/listening on 127\.0\.0\.1:(\d+)/, "stdout", 20_000))[1]!
        let seen = ""
        for (let i = 0; i < 40 && !seen.includes(`127.0.0.1:${port}`); i++) {
          await new Promise((resolve) => setTimeout(resolve, 250))
          seen = await ok(["lookup", "--home", bob, handle])
        }
        expect(seen).toContain(`127.0.0.1:${port}`)
      } finally {
        agent.child.kill("SIGTERM")
        expect(await agent.exited).toBe(0)
      }

      // An agent without the passphrase says how to give it, in one line, exit 4.
      const locked = await run(["agent", "--home", alice, "--listen", "127.0.0.1:0"])
      expect(locked).toMatchObject({ code: 4, line: expect.stringMatching(/set SIXCHAT_PASSPHRASE/) })

      // Removing the passphrase leaves a plain PKCS#8 key, still 0600, that needs no passphrase.
      await must(["id", "passphrase", "--home", alice, "--remove"], { SIXCHAT_PASSPHRASE: "second passphrase" })
      expect(label(keyFile)).toBe("PRIVATE KEY")
      expect(mode(keyFile)).toBe(0o600)
      const revoked = await must(["revoke", "--home", alice])
      expect(revoked).toMatch(/revoked \S+/)
    } finally {
      expect(await stop(served)).toBe(0)
    }
  }, 180_000)
})
