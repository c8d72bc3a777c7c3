/**
 * The `sixchat` command tree, loaded per command: start-up time is module loading (issue 13), so the
 * tree holds only the top-level command the arguments name (`sixchat send …` loads the people
 * commands' `send.ts` and what it imports, never the IRP server, the CA or SQLite). When the first
 * word is not a known command (`--help`, `--completions`, a typo), every command is loaded, so that
 * help, completions and "did you mean" see them all.
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import { Console, Effect } from "effect"
import type { Entropy } from "../services/Entropy.js"
import { usage } from "./failure.js"
import { check } from "./help/check.js"
import { completionScript, SHELLS } from "./help/completions.js"
import { commandDoc } from "./help/model.js"
import { renderHelp, styleFor } from "./help/render.js"
import { VERSION } from "./version.js"

export { VERSION }

// biome-ignore lint/suspicious/noExplicitAny: commands differ in their parsed values and errors
export type AnyCommand = Command.Command<any, CliApp.CliApp.Environment | Entropy, any, any>

type Loader = () => Promise<ReadonlyArray<AnyCommand>>

const userIrp = () => import("./registerLookup.js")

/** The top-level commands in the order help lists them; each loads its own modules. */
const loaders: ReadonlyArray<readonly [string, Loader]> = [
  ["demo", async () => [(await import("./demo.js")).demoCommand]],
  ["agent", async () => [(await import("./agent.js")).agentCommand]],
  ["send", async () => [(await import("./people/send.js")).sendCommand]],
  ["send-file", async () => [(await import("./people/send.js")).sendFileCommand]],
  ["accept", async () => [(await import("./people/accept.js")).acceptCommand]],
  ["history", async () => [(await import("./people/history.js")).historyCommand]],
  ["chat", async () => [(await import("./people/chat.js")).chatCommand]],
  ["contacts", async () => [(await import("./people/contacts.js")).contactsCommand]],
  ["contact", async () => [(await import("./people/contacts.js")).contactCommand]],
  ["trust", async () => [(await import("./people/contacts.js")).trustCommand]],
  ["status", async () => [(await import("./people/status.js")).statusCommand]],
  ["outbox", async () => [(await import("./people/outbox.js")).outboxCommand]],
  ["irp", async () => [await irpCommand()]],
  ["id", async () => [await idCommand()]],
  ["register", async () => [(await userIrp()).userIrpCommands[0]]],
  ["lookup", async () => [(await userIrp()).userIrpCommands[1]]],
  ["revoke", async () => [(await userIrp()).userIrpCommands[2]]],
  ["peer", async () => [(await import("./peer.js")).peerCommand]],
  ["cert", async () => [(await import("./cert.js")).certCommand]],
  ["domain", async () => [(await import("./domainShow.js")).domainCommand]],
  ["doctor", async () => [(await import("./doctor/doctor.js")).doctorCommand]]
]

/** The names of the top-level commands, in help order. */
export const commandNames: ReadonlyArray<string> = loaders.map(([name]) => name)

const irpCommand = async (): Promise<AnyCommand> => {
  const [admin, serve] = await Promise.all([import("./irpAdmin.js"), import("./irpServe.js")])
  const [init, ...rest] = admin.irpAdminCommands
  return Command.make("irp").pipe(
    Command.withDescription("run and administer a domain's IRP server (registry and certificate authority)"),
    Command.withSubcommands([init, serve.irpServeCommand, ...rest])
  )
}

const idCommand = async (): Promise<AnyCommand> => {
  const [ids, enroll, rotate] = await Promise.all([import("./id.js"), import("./enroll.js"), import("./idRotate.js")])
  const [idNew, ...rest] = ids.idCommands
  return Command.make("id").pipe(
    Command.withDescription("your identity: key, certificate, enrolment"),
    Command.withSubcommands([idNew, enroll.enrollCommand, ...rest, rotate.idRotateCommand])
  )
}

/** The first word of `args` that is not an option (the command), if any. */
export const commandWord = (args: ReadonlyArray<string>): string | undefined => args.find((a) => !a.startsWith("-"))

/** The commands `args` needs: the one it names, or all of them. */
export const loadCommands = async (args: ReadonlyArray<string>): Promise<ReadonlyArray<AnyCommand>> => {
  const word = commandWord(args)
  const named = loaders.find(([name]) => name === word)
  const chosen = named === undefined ? loaders : [named]
  return (await Promise.all(chosen.map(([, load]) => load()))).flat()
}

export const rootOf = (commands: ReadonlyArray<AnyCommand>) =>
  Command.make("sixchat").pipe(
    Command.withDescription("SixChat: direct, end-to-end encrypted messaging between people (E2E port 4605, IRP 4604)"),
    Command.withSubcommands(commands as [AnyCommand, ...Array<AnyCommand>])
  )

/**
 * Runs the command line `argv` (`process.argv`: node, script, arguments…): our help and "did you
 * mean" first (`help/check.ts`), then @effect/cli's parser and the command.
 */
export const run = async (argv: ReadonlyArray<string>) => {
  const args = argv.slice(2)
  const root = rootOf(await loadCommands(args))
  const shell = args[0] === "--completions" && args.length === 2 ? SHELLS.find((s) => s === args[1]) : undefined
  if (shell !== undefined)
    return Effect.sync(() => void process.stdout.write(completionScript(commandDoc(root), shell)))
  const checked = check(commandDoc(root), args)
  switch (checked._tag) {
    case "Help":
      return Effect.sync(() => void process.stdout.write(renderHelp(checked.doc, styleFor(process.stdout))))
    case "MissingCommand":
      return Effect.zipRight(
        Effect.sync(() => void process.stderr.write(renderHelp(checked.doc, styleFor(process.stderr)))),
        Effect.fail(usage(`give a command after \`${["sixchat", ...checked.doc.path].join(" ")}\``))
      )
    case "Unknown":
      return Effect.fail(usage(checked.message))
    case "Parse":
      return Console.consoleWith((console) =>
        Console.withConsole(Command.run(root, { name: "sixchat", version: VERSION })(argv), {
          ...console,
          error: (...parts) => Effect.sync(() => void process.stderr.write(usageErrorLine(parts, checked.doc.path)))
        })
      )
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes
const ANSI = /\u001b\[[0-9;]*m/g

/** @effect/cli's parse errors (`Missing argument <HANDLE>`) as one line like ours, pointing at the help. */
const usageErrorLine = (parts: ReadonlyArray<unknown>, path: ReadonlyArray<string>): string => {
  const text = parts.map(String).join(" ").replace(ANSI, "").replace(/\s+/g, " ").trim()
  return `sixchat: ${text.charAt(0).toLowerCase()}${text.slice(1)} (see \`${["sixchat", ...path, "--help"].join(" ")}\`)\n`
}
