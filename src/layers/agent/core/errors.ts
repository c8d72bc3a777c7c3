/** Why a session with a peer could not be had (issue 4, section 1). */
import { Data } from "effect"

export class SessionError extends Data.TaggedError("SessionError")<{
  readonly reason:
    | "Lookup" // the Directory does not know where the peer is
    | "Unreachable" // every address failed (connect or handshake)
    | "KeyChanged" // the peer's key changed and strict mode refuses it until `trust`
    | "Refused" // the peer closed the session at once (e.g. it refuses our key)
    | "ShuttingDown" // the agent is stopping
  /** One sentence that says what went wrong and what to do next. */
  readonly message: string
  readonly cause?: unknown
}> {}
