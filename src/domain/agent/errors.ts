/** The one error of the agent store (issue 4, section 2). */
import { Data } from "effect"

export type AgentStoreErrorReason =
  | "Storage" // the database failed or holds a malformed row; `cause` holds the SqlError / ParseError
  | "Io" // a file operation of the store failed (creating the database, placing a downloaded file)
  | "NotFound" // no such contact, message or transfer
  | "Conflict" // an id already stored with other content
  | "TooLate" // cancelling a message that was already delivered
  | "NoKeyChange" // `acceptKey` with no pending key change
  | "InvalidTransition" // a terminal transfer moved to another state
  | "InvalidArgument" // an offset past the file's end, a limit out of range

export class AgentStoreError extends Data.TaggedError("AgentStoreError")<{
  readonly reason: AgentStoreErrorReason
  /** One sentence saying what went wrong and what to do. */
  readonly message: string
  readonly cause?: unknown
}> {}
