/**
 * Help and usage errors of the real command line (issue 13): git-style help with no ANSI escapes when
 * not on a terminal, "did you mean" for misspelled commands and options, and each usage error with
 * its exit code and one sentence on stderr.
 */
import { describe, expect, it } from "vitest"
import { styleFor } from "../../src/cli/help/render.js"
import { runCli } from "../support/cli.js"

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for ANSI escapes
const ESC = /\u001b/

describe("sixchat --help", () => {
  it("send --help: usage as `sixchat send`, optional options in brackets, aligned lines, EXAMPLES and EXIT STATUS, no ANSI when piped", async () => {
    const r = await runCli(["send", "--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).not.toMatch(ESC)
    expect(r.stdout).not.toContain("A user-defined piece of text")
    expect(r.stdout).not.toContain("This setting is optional")
    expect(r.stdout).toMatchSnapshot()
  })

  it("the top-level help lists every command and the exit-code table, even with a terminal-looking NO_COLOR", async () => {
    const r = await runCli(["--help"], undefined, { NO_COLOR: "1" })
    expect(r.code).toBe(0)
    expect(r.stdout).not.toMatch(ESC)
    for (const name of ["agent", "send", "send-file", "history", "irp", "id", "cert"])
      expect(r.stdout).toMatch(new RegExp(`^  ${name} `, "m"))
    expect(r.stdout).toContain("EXIT STATUS")
    expect(r.stdout).toMatch(/^ {2}4 +local state: /m)
    expect(r.stdout.split("\n").every((line) => line.length <= 80)).toBe(true)
  })

  it("irp serve --help shows --listen as optional and --dir as required", async () => {
    const r = await runCli(["irp", "serve", "--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: sixchat irp serve --dir DIR \[--listen HOST:PORT\.\.\.\] \[--db URL\]/m)
    expect(r.stdout).toMatchSnapshot()
  })

  it("doctor --help: its own exit codes (0 nothing failed, 1 a check failed, 3 only the IRP unreachable) and examples", async () => {
    const r = await runCli(["doctor", "--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^ {2}3 +the only failure: the IRP named in the home could not be reached$/m)
    expect(r.stdout).toContain("sixchat doctor --home ~/.sixchat")
    expect(r.stdout).toMatchSnapshot()
  })

  it("outbox --help: a group that also runs by itself ([COMMAND]), its cancel subcommand and examples", async () => {
    const r = await runCli(["outbox", "--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: sixchat outbox \[--home DIR\] \[--json\] \[COMMAND\]$/m)
    expect(r.stdout).toMatchSnapshot()
    const cancel = await runCli(["outbox", "cancel", "--help"])
    expect(cancel.stdout).toMatch(/^usage: sixchat outbox cancel \[--home DIR\] ID$/m)
  })

  it("colour only on a terminal, never with NO_COLOR", () => {
    expect(styleFor({ isTTY: true, columns: 120 }, {}).color).toBe(true)
    expect(styleFor({ isTTY: true }, { NO_COLOR: "1" }).color).toBe(false)
    expect(styleFor({ isTTY: false }, {}).color).toBe(false)
    expect(styleFor({}, {}).width).toBe(80)
  })
})

describe("usage errors", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
    [["sned", "bob@example.org", "hi"], /^sixchat: 'sned' is not a command of `sixchat`; did you mean 'send'\?/],
    [["irp", "serv"], /^sixchat: 'serv' is not a command of `sixchat irp`; did you mean 'serve'\?/],
    [["id", "enrol"], /^sixchat: 'enrol' is not a command of `sixchat id`; did you mean 'enroll'\?/],
    [
      ["send", "--hme", "X", "bob@example.org", "hi"],
      /^sixchat: `sixchat send` has no option --hme; did you mean --home\? \(see `sixchat send --help`\)\n$/
    ],
    [["send"], /^sixchat: missing argument <HANDLE> \(see `sixchat send --help`\)\n$/],
    [["irp"], /sixchat: give a command after `sixchat irp`\n$/]
  ]
  for (const [args, message] of cases)
    it(`sixchat ${args.join(" ")}: exit 2, ${message.source.slice(1, 40)}…`, async () => {
      const r = await runCli(args)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(ESC)
      expect(r.stdout).toBe("")
    })
})
