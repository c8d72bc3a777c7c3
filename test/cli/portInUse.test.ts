/**
 * A port in use exits 4 from both `sixchat agent` and `sixchat irp serve`, with one sentence that does
 * not repeat itself; `irp serve --log-format json` writes JSON on every stderr line, the start-up,
 * readiness, stop and failure lines included (issue 13).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { enrolUser, ok, type Served, serve, stop, type Workspace, workspace } from "./irpFlow.js"

describe("a port in use; irp serve --log-format json", () => {
  let ws: Workspace
  let served: Served
  beforeAll(async () => {
    ws = workspace()
    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    served = await serve(ws.dir, ["--log-format", "json"])
  })
  afterAll(() => ws.cleanup())

  it("irp serve on a taken port: exit 4, one JSON record naming the address, in JSON mode", async () => {
    const r = await runCli(["irp", "serve", "--dir", ws.dir, "--listen", served.address, "--log-format", "json"])
    expect(r.code).toBe(4)
    const lines = r.stderr.trim().split("\n")
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records.at(-1)).toMatchObject({
      level: "ERROR",
      exitCode: 4,
      message: `cannot listen on ${served.address}: another program (another IRP server?) uses the port; stop it or choose another port with --listen HOST:PORT`
    })
  })

  it("irp serve on a taken port in text mode: the same exit code and sentence, once", async () => {
    const r = await runCli(["irp", "serve", "--dir", ws.dir, "--listen", served.address])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(
      new RegExp(
        `^sixchat: cannot listen on ${served.address.replace(/\./g, "\\.")}: another program \\(another IRP server\\?\\)`,
        "m"
      )
    )
    expect(r.stderr.match(/cannot listen|in use/g)).toEqual(["cannot listen"])
    expect(r.stderr.match(/choose another/g)).toHaveLength(1)
  })

  it("agent on a taken port: exit 4, the same sentence", async () => {
    const home = await enrolUser(ws, served, "alice")
    const r = await runCli(["agent", "--home", home, "--listen", served.address, "--irp", served.address])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain(
      `sixchat: cannot listen on ${served.address}: another program (another agent?) uses the port; stop it or choose another port with --listen HOST:PORT\n`
    )
  })

  it("every line the JSON-mode server wrote is a JSON record, ready and stopping included", async () => {
    expect(await stop(served)).toBe(0)
    const lines = served.process.stderr.trim().split("\n")
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const r of records) expect(Date.parse(r.time as string)).not.toBeNaN()
    expect(records.filter((r) => r.message === "ready")).toEqual([
      expect.objectContaining({ level: "INFO", addresses: [served.address] })
    ])
    expect(records.map((r) => r.message)).toEqual(
      expect.arrayContaining([
        `listening on ${served.address}`,
        "stopping: closing connections and the database",
        expect.stringMatching(/^irp server for example\.org/)
      ])
    )
  })
})
