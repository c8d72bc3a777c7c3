/** What the SessionManager (`SessionManager.ts`) and its parts are built with. */

import type { Effect } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { LocalIdentity } from "../../../domain/handshake/parameters.js"
import type { AgentEvent } from "../../../services/Agent.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { DirectoryService } from "../../../services/Directory.js"
import type { PeerStatusService } from "../../../services/PeerStatus.js"
import type { SecureChannelsService } from "../../../services/SecureChannel.js"
import type { ResolvedOptions } from "./options.js"

export interface SessionManagerConfig {
  readonly self: Handle
  readonly identity: LocalIdentity
  readonly options: ResolvedOptions
  readonly channels: SecureChannelsService<AppMessage, AppMessage>
  readonly store: AgentStoreService
  readonly directory: DirectoryService
  readonly publish: (event: AgentEvent) => Effect.Effect<void>
  /** The status gate (PROTOCOL.md §13.6): without it every verified peer is admitted. */
  readonly peerStatus?: PeerStatusService | undefined
}
