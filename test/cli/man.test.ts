/**
 * The man pages build from the command definitions (issue 13): one page per command and group, every
 * page listed in package.json's "man" field (so npm installs it), and each one renders with man(1)
 * without a warning.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { writeManPages } from "../../src/cli/build/man.js"
import { tempDir } from "../support/tempDirs.js"

const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  man: ReadonlyArray<string>
}

describe("man pages", () => {
  it("build for every command, match package.json's man field, and render with man -l", async () => {
    const dir = tempDir("sixchat-man-")
    const files = await writeManPages(dir)
    expect([...files].sort()).toEqual(packageJson.man.map((path) => path.replace("dist/man/", "")).sort())
    expect(files).toEqual(
      expect.arrayContaining(["sixchat.1", "sixchat-agent.1", "sixchat-irp-serve.1", "sixchat-send.1"])
    )
    const send = readFileSync(join(dir, "sixchat-send.1"), "utf8")
    expect(send).toMatch(/^\.TH SIXCHAT-SEND 1 /)
    for (const section of ["NAME", "SYNOPSIS", "OPTIONS", "EXAMPLES", "EXIT STATUS", "SEE ALSO"])
      expect(send).toContain(`.SH ${section}`)
    for (const file of ["sixchat.1", "sixchat-irp-serve.1", "sixchat-send.1", "sixchat-doctor.1"]) {
      const shown = spawnSync("man", ["--warnings", "-l", join(dir, file)], {
        encoding: "utf8",
        env: { ...process.env, MANPAGER: "cat", MANWIDTH: "80" }
      })
      expect(shown.status).toBe(0)
      expect(shown.stderr).toBe("")
      expect(shown.stdout).toContain("EXIT STATUS")
    }
    const irpServe = execFileSync("man", ["-l", join(dir, "sixchat-irp-serve.1")], {
      encoding: "utf8",
      env: { ...process.env, MANPAGER: "cat", MANWIDTH: "80" }
    })
    expect(irpServe).toMatch(/sixchat irp serve --dir DIR \[--listen HOST:PORT\.\.\.\]/)
  })
})
