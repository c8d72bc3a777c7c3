/**
 * `sixchat --completions bash` knows every level's commands and each command's own options (issue 13):
 * the script the real binary prints, run in bash with the words a user typed.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { tempDir } from "../support/tempDirs.js"

describe("sixchat --completions", () => {
  it("bash: subcommands, a subcommand's options and an option's choices", async () => {
    const r = await runCli(["--completions", "bash"])
    expect(r.code).toBe(0)
    const script = join(tempDir("sixchat-completions-"), "sixchat.bash")
    writeFileSync(script, r.stdout)
    const complete = (words: ReadonlyArray<string>) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _sixchat; echo "\${COMPREPLY[@]}"`,
          script
        ],
        { encoding: "utf8" }
      ).trim()
    expect(complete(["sixchat", "irp", "serve", "--l"])).toBe("--listen --log-format --lookup-cache")
    expect(complete(["sixchat", "irp", "serve", "--log-format", ""])).toBe("text json")
    expect(complete(["sixchat", "irp", "s"])).toBe("serve")
    expect(complete(["sixchat", "send", "--"])).toBe("--home --queue --help")
    expect(complete(["sixchat", "doc"])).toBe("doctor")
    expect(complete(["sixchat", "doctor", "--"])).toBe("--home --json --crypto --help")
    expect(complete(["sixchat", "outbox", "c"])).toBe("cancel")
    expect(complete(["sixchat", "outbox", "--"])).toBe("--home --json --help")
  })

  it("zsh and fish scripts are printed too", async () => {
    expect((await runCli(["--completions", "zsh"])).stdout).toContain("bashcompinit")
    expect((await runCli(["--completions", "fish"])).stdout).toMatch(
      /complete -c sixchat -n .* -l log-format -r -a 'text json'/
    )
  })
})
