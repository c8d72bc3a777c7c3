/**
 * How commands fail: one line on stderr that says what to do next, and a distinct exit code.
 */
import { Data } from "effect"

export const ExitCode = {
  Ok: 0,
  /** The operation ran and the answer is "no" (rejected certificate, failed handshake, refused request). */
  Rejected: 1,
  /** Usage or input error: bad flags, unreadable or malformed files. */
  Usage: 2,
  /** A network peer or server could not be reached. */
  Unreachable: 3,
  /** Local state problem: missing identity, existing directory, storage failure. */
  State: 4
} as const

export class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly code: number
  /** One sentence for stderr. */
  readonly message: string
}> {}

export const usage = (message: string) => new CliFailure({ code: ExitCode.Usage, message })
export const rejected = (message: string) => new CliFailure({ code: ExitCode.Rejected, message })
