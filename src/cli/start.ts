/**
 * Runs the command line, maps failures to exit codes, and turns SIGINT/SIGTERM into a
 * clean interruption (finalizers run: channels send <Close/>, servers stop listening).
 */
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { run } from "./app.js"
import { ExitCode } from "./failure.js"
import { cliLayer } from "./layers.js"

// A reader that stops early (`sixchat history | head -1`) closes the pipe: the next write fails with
// EPIPE. Stop writing to that stream and let the command finish as it would (its own exit status,
// usually 0, no stack trace), as `git log | head` does; a long-running agent keeps running
// (issue 10, section 6; DECISIONS.md, "A closed stdout").
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error
    stream.write = (() => true) as typeof stream.write
  })
}

const program = Effect.promise(() => run(process.argv)).pipe(Effect.flatten, Effect.provide(cliLayer))

const fiber = Effect.runFork(program)
let signalled = false
const stop = () => {
  if (signalled) process.exit(130)
  signalled = true
  Effect.runFork(Fiber.interrupt(fiber))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)

fiber.addObserver((exit) => {
  process.exitCode = exitCodeOf(exit)
  // Let stdout/stderr drain, then leave even if a socket or timer is still referenced.
  setImmediate(() => process.exit())
})

function exitCodeOf(exit: Exit.Exit<unknown, unknown>): number {
  if (Exit.isSuccess(exit)) return ExitCode.Ok
  if (Cause.isInterruptedOnly(exit.cause)) return signalled ? ExitCode.Ok : ExitCode.Interrupted
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value as { _tag?: string; code?: number; message?: string }
    if (error._tag === "CliFailure") {
      if ((error as { reported?: boolean }).reported !== true) process.stderr.write(`sixchat: ${error.message}\n`)
      return error.code ?? ExitCode.Rejected
    }
    // @effect/cli has already printed usage errors (ValidationError).
    if (
      error._tag !== undefined &&
      /^(CommandMismatch|MissingValue|InvalidValue|InvalidArgument|CorrectedFlag|HelpRequested|MissingFlag|MissingSubcommand|MultipleValuesDetected|NoBuiltInMatch|UnclusteredFlag)$/.test(
        error._tag
      )
    )
      return ExitCode.Usage
    process.stderr.write(`sixchat: ${error.message ?? String(error)}\n`)
    return ExitCode.Internal
  }
  process.stderr.write(`sixchat: internal error: ${Cause.pretty(exit.cause)}\n`)
  return ExitCode.Internal
}
