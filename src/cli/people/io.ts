/**
 * Where the people commands read and write: the process's streams by default; tests provide their own
 * (`Effect.provideService(PeopleIo, …)`) to run the commands in-process.
 */
import { Context, Effect } from "effect"

export interface TerminalOutput extends NodeJS.WritableStream {
  readonly isTTY?: boolean
  readonly columns?: number
}

export interface PeopleIoService {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean }
  readonly stdout: TerminalOutput
  readonly stderr: TerminalOutput
  /** Relative paths (`send-file`, `/file`) are resolved against this. */
  readonly cwd: string
}

export class PeopleIo extends Context.Reference<PeopleIo>()("sixchat/cli/PeopleIo", {
  defaultValue: (): PeopleIoService => ({
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd()
  })
}) {}

/** One line on stdout. */
export const say = (line: string) => Effect.map(PeopleIo, (io) => void io.stdout.write(`${line}\n`))

/** One line on stderr (notes and progress, so that stdout stays what scripts read). */
export const note = (line: string) => Effect.map(PeopleIo, (io) => void io.stderr.write(`${line}\n`))

export const isTerminal = (stream: { readonly isTTY?: boolean }): boolean => stream.isTTY === true
