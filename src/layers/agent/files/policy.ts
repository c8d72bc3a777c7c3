/**
 * The auto-accept policy (pure, in `src/domain/agent/filePolicy.ts`) as the plugin uses it, and the
 * one error of the file-transfer plugin.
 */
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

export { FileTransferError } from "../../../services/FileTransfers.js"
