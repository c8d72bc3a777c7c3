/**
 * The operator + user flow of IRP issue section 4 through the built binary, run against each storage:
 * `irp init`, `irp serve` (port 0), `irp token`, `id new`, `id enroll`, `register`, `lookup --json` by a
 * second user, `revoke`, `lookup` says revoked, and SIGTERM ends the server with exit 0.
 */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { expect } from "vitest"
import { type Running, runCli, start } from "../support/cli.js"
import { tempDir } from "../support/tempDirs.js"

export interface Workspace {
  readonly root: string
  readonly dir: string
  readonly cleanup: () => void
}

export const workspace = (): Workspace => {
  const root = tempDir("sixchat-cli-irp-")
  return { root, dir: join(root, "domain"), cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

/** Runs a command that must succeed; returns its stdout. */
export const ok = async (args: ReadonlyArray<string>, stdin?: string): Promise<string> => {
  const r = await runCli(args, stdin)
  if (r.code !== 0) throw new Error(`sixchat ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

export interface Served {
  readonly process: Running
  readonly address: string
}

/** `irp serve` on 127.0.0.1 port 0; resolves once it printed the real port. */
export const serve = async (dir: string, extra: ReadonlyArray<string> = []): Promise<Served> => {
  const process = start(["irp", "serve", "--dir", dir, "--listen", "127.0.0.1:0", ...extra], { timeoutMs: 60_000 })
  const port = (await process.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]!
  return { process, address: `127.0.0.1:${port}` }
}

/** SIGTERM, then the exit code. */
export const stop = async (served: Served): Promise<number | null> => {
  served.process.child.kill("SIGTERM")
  return served.process.exited
}

/** `id new` + `irp token` + `id enroll`: an enrolled home for `handle`. */
export const enrolUser = async (
  ws: Workspace,
  served: Served,
  local: string,
  db: ReadonlyArray<string> = []
): Promise<string> => {
  const home = join(ws.root, local)
  const handle = `${local}@example.org`
  const [token] = await Promise.all([
    ok(["irp", "token", "--dir", ws.dir, "--handle", handle, ...db]),
    ok(["id", "new", "--home", home, "--handle", handle])
  ])
  expect(token.trim()).toMatch(/^sxe1-\S{43}$/)
  const out = await ok([
    "id",
    "enroll",
    "--home",
    home,
    "--irp",
    served.address,
    "--token",
    token.trim(),
    "--trust",
    join(ws.dir, "ca.pem")
  ])
  expect(out).toMatch(new RegExp(`enrolled ${handle} with irp\\.example\\.org`))
  return home
}

interface LookupJson {
  readonly handle: string
  readonly status: string
  readonly certificate: { readonly serial: string; readonly fingerprint: string; readonly notAfter: string } | null
  readonly bindings: ReadonlyArray<{
    readonly deviceId: string
    readonly addresses: ReadonlyArray<string>
    readonly expiresAt: string
    readonly seq: string
  }>
}

export const lookupJson = async (home: string, handle: string): Promise<LookupJson> =>
  JSON.parse(await ok(["lookup", "--home", home, handle, "--json"])) as LookupJson

/**
 * The whole flow on one storage (`db`: extra `--db` arguments for `irp token` and `irp serve`, none for
 * the SQLite file in DIR). Returns the server's stderr (its request log) after it stopped.
 */
export const operatorAndUserFlow = async (
  ws: Workspace,
  db: ReadonlyArray<string>,
  logFormat: "text" | "json"
): Promise<string> => {
  await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
  const served = await serve(ws.dir, [...db, "--log-format", logFormat])
  try {
    const [alice, bob] = await Promise.all([enrolUser(ws, served, "alice", db), enrolUser(ws, served, "bob", db)])
    const aliceShown = await ok(["id", "show", "--home", alice])
    const fingerprint = /fingerprint: ([0-9a-f]{64})/.exec(aliceShown)?.[1]
    expect(aliceShown).toContain(`irp:         ${served.address} (irp.example.org)`)

    const registered = await ok(["register", "--home", alice, "--address", "127.0.0.1:4605", "--ttl", "2m"])
    expect(registered).toMatch(/registered alice@example\.org device \S+ at 127\.0\.0\.1:4605 for 120 s/)
    expect(registered).toMatch(/observed address: 127\.0\.0\.1:\d+/)
    expect(registered).not.toContain("NAT suspected")

    const found = await lookupJson(bob, "alice@example.org")
    expect(found.status).toBe("good")
    expect(found.certificate?.fingerprint).toBe(fingerprint)
    expect(found.bindings.map((b) => b.addresses)).toEqual([["127.0.0.1:4605"]])
    const expires = Date.parse(found.bindings[0]!.expiresAt) - Date.now()
    expect(expires).toBeGreaterThan(60_000)
    expect(expires).toBeLessThanOrEqual(120_000)

    const revoked = await ok(["revoke", "--home", alice, "--reason", "keyCompromise"])
    expect(revoked).toContain(`revoked ${found.certificate?.serial} (keyCompromise)`)
    const after = await lookupJson(bob, "alice@example.org")
    expect([after.status, after.certificate?.serial, after.bindings]).toEqual([
      "revoked",
      found.certificate?.serial,
      []
    ])
    const text = await ok(["lookup", "--home", bob, "alice@example.org"])
    expect(text.split("\n")[0]).toBe("alice@example.org: revoked")

    // The revoked holder is refused, with one line saying what to do, exit 1.
    const refused = await runCli(["register", "--home", alice, "--address", "127.0.0.1:4605"])
    expect(refused.code).toBe(1)
    // The server refuses the revoked certificate at the handshake with an alert. When the server resets the
    // connection before the client reads that alert, the client can only say the connection broke.
    expect(refused.stderr).toMatch(/^sixchat: .*(revoked.*Enrol again with a new token|broke: try again)/)
    expect(refused.stderr.trim().split("\n")).toHaveLength(1)
  } finally {
    expect(await stop(served)).toBe(0)
  }
  return served.process.stderr
}
