/**
 * The `sixchat` command tree, loaded per command: start-up time is module loading (issue 13), so the
 * tree holds only the top-level command the arguments name (`sixchat send …` loads the people
 * commands' `send.ts` and what it imports, never the IRP server, the CA or SQLite). When the first
 * word is not a known command (`--help`, `--completions`, a typo), every command is loaded, so that
 * help, completions and "did you mean" see them all.
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import type { Entropy } from "../services/Entropy.js"
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
  ["irp", async () => [await irpCommand()]],
  ["id", async () => [await idCommand()]],
  ["register", async () => [(await userIrp()).userIrpCommands[0]]],
  ["lookup", async () => [(await userIrp()).userIrpCommands[1]]],
  ["revoke", async () => [(await userIrp()).userIrpCommands[2]]],
  ["peer", async () => [(await import("./peer.js")).peerCommand]],
  ["cert", async () => [(await import("./cert.js")).certCommand]]
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

/** Runs the command line `argv` (`process.argv`: node, script, arguments…). */
export const run = async (argv: ReadonlyArray<string>) => {
  const commands = await loadCommands(argv.slice(2))
  return Command.run(rootOf(commands), { name: "sixchat", version: VERSION })(argv)
}
