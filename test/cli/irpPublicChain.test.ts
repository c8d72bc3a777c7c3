/**
 * The public chain of a domain's IRP (PROTOCOL.md §22.2.1) through the built binary: `irp init
 * --server-cert/--server-key` and `irp public-cert` check it and refuse a bad one with one line (exit 2,
 * nothing written); `irp serve` checks it again (exit 4) and, federating, starts with the public anchors of
 * `SIXCHAT_EXTRA_ROOTS`. Real processes, real files, certificates made by the `openssl` CLI.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli, start } from "../support/cli.js"
import { bundle, Ext, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"
import { ok, type Workspace, workspace } from "./irpFlow.js"

const workspaces: Array<Workspace> = []
let ssl: OpensslWorkspace
beforeAll(async () => {
  ssl = await makeWorkspace("sixchat-cli-public-")
}, 60_000)
afterAll(async () => {
  for (const ws of workspaces) ws.cleanup()
  await ssl?.cleanup()
})

describe("irp public chain (processes)", () => {
  it("init and public-cert check it; serve checks it again and federates with SIXCHAT_EXTRA_ROOTS", async () => {
    const ws = workspace()
    workspaces.push(ws)
    const root = await ssl.issue({ subject: "/CN=Test Public Root", extensions: Ext.root() })
    const leaf = (name: string, extensions = Ext.serverLeaf(name)) =>
      ssl.issue({ subject: `/CN=${name}`, issuer: root, extensions })
    const good = await leaf("irp.example.org")
    const goodChain = await ssl.file("good.pem", bundle(good, root))
    const otherName = await leaf("irp.other.net")

    const wrong = await runCli([
      "irp",
      "init",
      "--dir",
      ws.dir,
      "--domain",
      "example.org",
      "--server-cert",
      otherName.path,
      "--server-key",
      otherName.key.path
    ])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain(
      "cannot be the public chain of irp.example.org: the leaf certificate does not name irp.example.org in its subjectAltName (dNSName)"
    )
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1)
    expect(existsSync(ws.dir)).toBe(false)

    const created = await ok([
      "irp",
      "init",
      "--dir",
      ws.dir,
      "--domain",
      "example.org",
      "--server-cert",
      goodChain,
      "--server-key",
      good.key.path
    ])
    expect(created).toContain("public chain for other domains' IRPs")
    const configFile = join(ws.dir, "irp.json")
    const config = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>
    expect(config.publicChain).toEqual({ cert: "public.pem", key: "public-key.pem" })
    expect(statSync(join(ws.dir, "public-key.pem")).mode & 0o777).toBe(0o600)

    const clientOnly = await leaf(
      "irp.example.org",
      Ext.serverLeaf("irp.example.org").replace("extendedKeyUsage = serverAuth", "extendedKeyUsage = clientAuth")
    )
    const refused = await runCli([
      "irp",
      "public-cert",
      "--dir",
      ws.dir,
      "--server-cert",
      clientOnly.path,
      "--server-key",
      clientOnly.key.path
    ])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("the leaf certificate lacks the extended key usage serverAuth")
    expect(refused.stderr.trim().split("\n")).toHaveLength(1)
    expect(readFileSync(join(ws.dir, "public.pem"), "utf8")).toBe(bundle(good, root))

    // Federating (open), with the test root as an extra public anchor: serve starts.
    writeFileSync(configFile, JSON.stringify({ ...config, federation: { mode: "open", domains: [] } }))
    const rootFile = await ssl.file("roots.pem", root.pem)
    const served = start(["irp", "serve", "--dir", ws.dir, "--listen", "127.0.0.1:0"], {
      env: { SIXCHAT_EXTRA_ROOTS: rootFile },
      timeoutMs: 60_000
    })
    await served.waitFor(/listening on 127\.0\.0\.1:\d+/)
    served.child.kill("SIGTERM")
    expect(await served.exited).toBe(0)

    // A renewal gone wrong: serve refuses to start, in one line.
    writeFileSync(join(ws.dir, "public.pem"), otherName.pem)
    const broken = await runCli(["irp", "serve", "--dir", ws.dir, "--listen", "127.0.0.1:0"])
    expect(broken.code).toBe(4)
    expect(broken.stderr).toContain("cannot be the public chain of irp.example.org")
    expect(broken.stderr).toContain('(irp.json "publicChain")')
    expect(broken.stderr.trim().split("\n")).toHaveLength(1)

    // The public-cert command repairs it.
    expect(
      await ok(["irp", "public-cert", "--dir", ws.dir, "--server-cert", goodChain, "--server-key", good.key.path])
    ).toContain("public chain of irp.example.org stored")
  }, 120_000)
})
