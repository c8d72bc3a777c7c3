/**
 * The auto-accept policy (pure, in `src/domain/agent/filePolicy.ts`) as the plugin uses it, and the
 * one error of the file-transfer plugin.
 */
import { Data } from "effect"

export {
  type AcceptFrom,
  type AcceptPolicy,
  defaultAcceptPolicy,
  defaultTransferCaps,
  GiB,
  mayAutoAccept,
  parseAcceptPolicy,
  type TransferCaps
} from "../../../domain/agent/filePolicy.js"

export class FileTransferError extends Data.TaggedError("FileTransferError")<{
  readonly reason:
    | "NotFound" // no such file to send, or no such transfer
    | "BadRequest" // not a regular file, a transfer in the wrong state
    | "Io" // reading or writing a file failed
    | "Storage" // the agent store failed
  /** One sentence that says what went wrong and what to do. */
  readonly message: string
  readonly cause?: unknown
}> {}
