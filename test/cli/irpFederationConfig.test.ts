/**
 * irp.json's `federation` (PROTOCOL.md §22.5) as `irp serve` sees it: a bad mode stops the server before
 * it listens, with one line naming the file and the member. Real processes, real files.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { ok, type Workspace, workspace } from "./irpFlow.js"

const workspaces: Array<Workspace> = []
afterAll(() => {
  for (const ws of workspaces) ws.cleanup()
})

describe("irp.json federation (processes)", () => {
  it("irp init writes a closed policy; irp serve refuses a bad mode with one line naming it", async () => {
    const ws = workspace()
    workspaces.push(ws)
    await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
    const file = join(ws.dir, "irp.json")
    const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
    expect(json.federation).toEqual({ mode: "closed", domains: [] })
    writeFileSync(file, JSON.stringify({ ...json, federation: { mode: "relay" } }))
    const served = await runCli(["irp", "serve", "--dir", ws.dir, "--listen", "127.0.0.1:0"])
    expect(served.code).toBe(4) // local state
    expect(served.stderr).toContain(
      `${file} is not a valid IRP configuration: federation.mode: the federation mode is "open", "allow" or "closed".`
    )
    expect(served.stderr.trim().split("\n")).toHaveLength(1)
  })
})
