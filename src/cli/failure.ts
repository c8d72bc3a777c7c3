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
  /** Local state problem: missing identity, existing directory, storage failure, a port in use. */
  State: 4,
  /** A fault of sixchat itself (a bug): report it. */
  Internal: 70,
  /** Interrupted by a signal before it finished. */
  Interrupted: 130
} as const

/** The one exit-status table of every command (`--help`, man pages, README). */
export const EXIT_STATUS: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.Ok, "success"],
  [ExitCode.Rejected, "refused: a rejected certificate or handshake, an unknown or revoked handle, a refused request"],
  [ExitCode.Usage, "usage: a misspelled command or option, a bad value, an unreadable or malformed file"],
  [ExitCode.Unreachable, "unreachable: no agent running, an IRP server or peer that does not answer"],
  [ExitCode.State, "local state: no identity, a home or directory that exists, storage failure, a port in use"],
  [ExitCode.Internal, "internal error in sixchat: please report it"],
  [ExitCode.Interrupted, "interrupted (Ctrl-C) before the command finished"]
]

/**
 * Commands whose codes say more than the common table (their `--help` and man page show this one):
 * `doctor` reports what it found rather than failing on the first problem.
 */
const COMMAND_EXIT_STATUS: Readonly<Record<string, ReadonlyArray<readonly [number, string]>>> = {
  doctor: [
    [ExitCode.Ok, "no check failed (warnings allowed)"],
    [ExitCode.Rejected, "a check failed: its line says what to fix"],
    [ExitCode.Usage, "usage: a misspelled option or a bad value"],
    [ExitCode.Unreachable, "the only failure: the IRP named in the home could not be reached"],
    [ExitCode.Internal, "internal error in sixchat: please report it"],
    [ExitCode.Interrupted, "interrupted (Ctrl-C) before the command finished"]
  ]
}

/** The exit-status table of a command (words after `sixchat`). */
export const exitStatusOf = (path: ReadonlyArray<string>): ReadonlyArray<readonly [number, string]> =>
  COMMAND_EXIT_STATUS[path.join(" ")] ?? EXIT_STATUS

export class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly code: number
  /** One sentence for stderr. */
  readonly message: string
  /** Already written to stderr in the command's own format (`irp serve --log-format json`). */
  readonly reported?: boolean
}> {}

export const usage = (message: string) => new CliFailure({ code: ExitCode.Usage, message })
export const rejected = (message: string) => new CliFailure({ code: ExitCode.Rejected, message })
