/**
 * The people commands are clients of the running agent's control socket (docs/CONTROL.md): connect,
 * turn control errors into one-line failures that say what to do next, with `failure.ts` exit codes.
 */
import * as Options from "@effect/cli/Options"
import { Effect, Either, ParseResult, Schema, type Scope } from "effect"
import { Handle } from "../../domain/brands.js"
import { MessageBody } from "../../domain/e2e/messages.js"
import * as ControlClient from "../../layers/agent/control/ControlClient.js"
import type { ControlError } from "../../layers/agent/control/errors.js"
import { CliFailure, ExitCode, rejected, usage } from "../failure.js"
import { agentSocketPath } from "../home.js"

/** The exit code and sentence for a control error. */
export const controlFailure = (error: ControlError): CliFailure => {
  switch (error.reason) {
    case "NoAgent":
    case "Connection":
      return new CliFailure({ code: ExitCode.Unreachable, message: error.message })
    case "SocketPath":
      return usage(error.message)
    case "AlreadyRunning":
      return new CliFailure({ code: ExitCode.State, message: error.message })
    case "Protocol":
      return new CliFailure({
        code: ExitCode.Rejected,
        message: `${error.message} (is the agent from the same sixchat version? restart it)`
      })
    case "Rpc":
      switch (error.agentReason) {
        case "NotFound":
        case "BadRequest":
          return usage(error.message)
        case "Refused":
          return new CliFailure({ code: ExitCode.Rejected, message: error.message })
        case "Storage":
          return new CliFailure({ code: ExitCode.State, message: error.message })
        case "Unavailable":
          return new CliFailure({ code: ExitCode.Unreachable, message: error.message })
        default:
          return error.code === -32602
            ? usage(error.message)
            : error.code === -32000
              ? new CliFailure({ code: ExitCode.Unreachable, message: error.message })
              : new CliFailure({ code: ExitCode.Rejected, message: error.message })
      }
  }
}

/** Connects to the agent of `home` for the enclosing scope. */
export const connectAgent = (home: string): Effect.Effect<ControlClient.ControlClient, CliFailure, Scope.Scope> =>
  Effect.mapError(ControlClient.connect(agentSocketPath(home)), controlFailure)

/** Runs `f` with a connection to the agent of `home`; control errors become CLI failures. */
export const withAgent = <A, E, R>(
  home: string,
  f: (client: ControlClient.ControlClient) => Effect.Effect<A, E | ControlError, R>
): Effect.Effect<A, CliFailure | Exclude<E, ControlError>, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.flatMap(connectAgent(home), (client) =>
      Effect.catchIf(
        f(client),
        (e): e is ControlError =>
          typeof e === "object" && e !== null && (e as { _tag?: string })._tag === "ControlError",
        (e) => Effect.fail(controlFailure(e))
      )
    )
  ) as Effect.Effect<A, CliFailure | Exclude<E, ControlError>, Exclude<R, Scope.Scope>>

/** A handle from the command line (case folded: handles are lower case). */
export const parseHandle = (text: string): Effect.Effect<Handle, CliFailure> => {
  const decoded = Schema.decodeUnknownEither(Handle)(text.trim().toLowerCase())
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(usage(`"${text}" is not a handle like bob@example.org: check the spelling`))
}

/** A message body from the command line. */
export const parseBody = (text: string): Effect.Effect<string, CliFailure> => {
  if (text.length === 0) return Effect.fail(usage("the message is empty: write some text"))
  const decoded = Schema.decodeUnknownEither(MessageBody)(text)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(
        usage(
          `this message cannot be sent (${ParseResult.TreeFormatter.formatErrorSync(decoded.left).split("\n").at(-1)?.trim()}): shorten it or remove control characters`
        )
      )
}

/** `--queue`: skip the recipient check (issue 13, item 4). */
export const queueOption = Options.boolean("queue").pipe(
  Options.withDescription(
    "queue even if the IRP does not know HANDLE, it is revoked, of another domain or the IRP is unreachable (it expires if undeliverable)"
  )
)

/**
 * Asks the agent whether `peer` can be written to, before anything is queued (issue 13, item 4):
 * an unknown, revoked or other-domain handle is refused (exit 1) and leaves no contact behind; an
 * IRP that cannot be reached fails with exit 3 (`controlFailure` of `Unavailable`). `--queue` skips it.
 */
export const checkRecipient = (
  client: ControlClient.ControlClient,
  peer: Handle,
  queue: boolean
): Effect.Effect<void, CliFailure | ControlError> =>
  queue
    ? Effect.void
    : Effect.flatMap(client.call("lookup", { peer }), (found) =>
        found.status === "active"
          ? Effect.void
          : Effect.fail(rejected(`${found.message.replace(/\.$/, "")}; nothing was queued (--queue queues it anyway)`))
      )
