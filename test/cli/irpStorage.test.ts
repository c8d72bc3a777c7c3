/**
 * The domain's storage lives in irp.json (issue 13 §5): `irp init --db` records it, and `irp token`,
 * `irp serve` and `irp revoke` without `--db` use it; `--db` still overrides; an irp.json written before
 * the field existed means the SQLite file in DIR; a bad URL is refused with one line (exit 2, nothing
 * created). Real processes, real SQLite files (the PostgreSQL case is in irp.postgres.test.ts).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { enrolUser, ok, serve, stop, type Workspace, workspace } from "./irpFlow.js"

const workspaces: Array<Workspace> = []
const fresh = () => {
  const ws = workspace()
  workspaces.push(ws)
  return ws
}
afterAll(() => {
  for (const ws of workspaces) ws.cleanup()
})

const irpJson = (ws: Workspace) => JSON.parse(readFileSync(join(ws.dir, "irp.json"), "utf8")) as Record<string, unknown>

describe("irp.json holds the domain's storage (SQLite, processes)", () => {
  it("init --db sqlite:PATH records it; token and serve without --db use it, so enrolment works", async () => {
    const ws = fresh()
    const out = await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org", "--db", "sqlite:other.sqlite"])
    expect(out).toContain(`storage: sqlite:${join(ws.dir, "other.sqlite")}`)
    expect(irpJson(ws).db).toBe("sqlite:other.sqlite")
    const served = await serve(ws.dir)
    try {
      expect(served.process.stderr).toContain(`sqlite:${join(ws.dir, "other.sqlite")}`)
      await enrolUser(ws, served, "alice")
      expect(existsSync(join(ws.dir, "other.sqlite"))).toBe(true)
      expect(existsSync(join(ws.dir, "irp.sqlite"))).toBe(false)
      // irp revoke without --db finds alice's certificate in the same file.
      expect(await ok(["irp", "revoke", "--dir", ws.dir, "--handle", "alice@example.org"])).toMatch(
        /^revoked [0-9a-f]+/
      )
    } finally {
      expect(await stop(served)).toBe(0)
    }
  })

  it("--db overrides irp.json: a token written elsewhere is not known to the server", async () => {
    const ws = fresh()
    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    const served = await serve(ws.dir)
    try {
      const home = join(ws.root, "bob")
      await ok(["id", "new", "--home", home, "--handle", "bob@example.org"])
      const elsewhere = `sqlite:${join(ws.root, "elsewhere.sqlite")}`
      const token = await ok(["irp", "token", "--dir", ws.dir, "--handle", "bob@example.org", "--db", elsewhere])
      expect(existsSync(join(ws.root, "elsewhere.sqlite"))).toBe(true)
      const args = ["--home", home, "--irp", served.address, "--token", token.trim()]
      const refused = await runCli(["id", "enroll", ...args, "--trust", join(ws.dir, "ca.pem")])
      expect(refused.code).toBe(1)
    } finally {
      expect(await stop(served)).toBe(0)
    }
  })

  it("an irp.json without db (written before the field) keeps the SQLite file in DIR", async () => {
    const ws = fresh()
    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    const { db: _db, ...old } = irpJson(ws)
    writeFileSync(join(ws.dir, "irp.json"), `${JSON.stringify(old, null, 2)}\n`)
    const served = await serve(ws.dir)
    try {
      expect(served.process.stderr).toContain(`sqlite:${join(ws.dir, "irp.sqlite")}`)
      await enrolUser(ws, served, "carol")
    } finally {
      expect(await stop(served)).toBe(0)
    }
  })

  it("a bad URL: init refuses it with exit 2 and creates nothing; a bad irp.json db is exit 4 naming the file", async () => {
    const ws = fresh()
    const bad = await runCli(["irp", "init", "--dir", ws.dir, "--domain", "example.org", "--db", "mysql://x/y"])
    expect([bad.code, bad.stderr]).toEqual([
      2,
      'sixchat: --db: "mysql://x/y" is not a database: use sqlite:PATH or postgres://USER@HOST/DB[?schema=NAME]\n'
    ])
    expect(existsSync(ws.dir)).toBe(false)
    const badSchema = await runCli([
      "irp",
      "init",
      "--dir",
      ws.dir,
      "--domain",
      "example.org",
      "--db",
      "postgres://u@h/d?schema=A-B"
    ])
    expect(badSchema.code).toBe(2)
    expect(badSchema.stderr).toMatch(/^sixchat: --db: the PostgreSQL URL is malformed/)

    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    writeFileSync(join(ws.dir, "irp.json"), JSON.stringify({ ...irpJson(ws), db: "irp.sqlite" }))
    const token = await runCli(["irp", "token", "--dir", ws.dir, "--handle", "dan@example.org"])
    expect(token.code).toBe(4)
    expect(token.stderr).toContain(`${join(ws.dir, "irp.json")} names a storage that cannot be used`)
    const overridden = await runCli([
      "irp",
      "token",
      "--dir",
      ws.dir,
      "--handle",
      "dan@example.org",
      "--db",
      "sqlite:x.sqlite"
    ])
    expect(overridden.code).toBe(0)
  })
})
