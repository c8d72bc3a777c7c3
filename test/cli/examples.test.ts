/**
 * Every EXAMPLES line of `--help` and the man pages is a command line that works as written: it names
 * real commands and options (read by the same check that runs before parsing), it belongs to the page
 * it is shown on, and the values people copy most (`--accept-files`, durations) are accepted values.
 */
import { describe, expect, it } from "vitest"
import { loadCommands, rootOf } from "../../src/cli/app.js"
import { check } from "../../src/cli/help/check.js"
import { examplesOf } from "../../src/cli/help/examples.js"
import { type CommandDoc, commandDoc } from "../../src/cli/help/model.js"
import { parseAcceptPolicy } from "../../src/domain/agent/filePolicy.js"

/**
 * Splits a command line as a POSIX shell would for these examples (single and double quotes, no
 * escapes), up to a pipe: what follows `|` is another program.
 */
const words = (line: string): Array<string> => {
  const all = [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "")
  const pipe = all.indexOf("|")
  return pipe < 0 ? all : all.slice(0, pipe)
}

const walk = (doc: CommandDoc): Array<CommandDoc> => [doc, ...doc.subcommands.flatMap(walk)]

const optionValue = (args: ReadonlyArray<string>, option: string): string | undefined => {
  const i = args.indexOf(option)
  return i < 0 ? undefined : args[i + 1]
}

describe("help examples", async () => {
  const root = commandDoc(rootOf(await loadCommands([])))
  const pages = walk(root).map((doc) => [doc, examplesOf(doc.path)] as const)

  it("exist for the commands people start with", () => {
    const documented = new Set(pages.filter(([, e]) => e.length > 0).map(([d]) => d.path.join(" ")))
    for (const path of ["", "agent", "send", "history", "outbox", "doctor", "irp serve", "irp init"])
      expect(documented.has(path), `examples for "${path}"`).toBe(true)
  })

  it("name real commands and options, on the page of their own command", () => {
    for (const [doc, examples] of pages)
      for (const [, line] of examples) {
        if (!line.startsWith("sixchat ")) continue // e.g. `source <(sixchat --completions bash)`
        const args = words(line).slice(1)
        const checked = check(root, args)
        expect(checked._tag, `${line}: ${checked._tag === "Unknown" ? checked.message : ""}`).toMatch(/^(Parse)$/)
        if (checked._tag === "Parse")
          expect(checked.doc.path.slice(0, doc.path.length), `${line} is shown under "${doc.path.join(" ")}"`).toEqual(
            doc.path
          )
      }
  })

  it("give values the commands accept", () => {
    for (const [, examples] of pages)
      for (const [, line] of examples) {
        const args = words(line)
        const accept = optionValue(args, "--accept-files")
        if (accept !== undefined) expect(parseAcceptPolicy(accept), line).toBeDefined()
        const expiry = optionValue(args, "--outbox-expiry")
        if (expiry !== undefined) expect(expiry, line).toMatch(/^\d+(s|m|h|d)$/)
      }
  })
})
