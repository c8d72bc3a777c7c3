/**
 * Entry point: runs the command line, maps failures to exit codes, and turns SIGINT/SIGTERM into a
 * clean interruption (finalizers run: channels send <Close/>, servers stop listening).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Effect, Exit, Fiber, Layer, Option } from "effect"
import { run } from "./cli/app.js"
import { ExitCode } from "./cli/failure.js"
import * as EntropyLive from "./layers/EntropyLive.js"

const program = Effect.suspend(() => run(process.argv)).pipe(
  Effect.provide(Layer.mergeAll(NodeContext.layer, EntropyLive.layer))
)

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
  if (Cause.isInterruptedOnly(exit.cause)) return signalled ? ExitCode.Ok : 130
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value as { _tag?: string; code?: number; message?: string }
    if (error._tag === "CliFailure") {
      process.stderr.write(`sixchat: ${error.message}\n`)
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
    return 70
  }
  process.stderr.write(`sixchat: internal error: ${Cause.pretty(exit.cause)}\n`)
  return 70
}
