/**
 * The file transfers (`files/FileTransfers.ts`) as the agent's `FilesFeature` (issue 4, section 3):
 * what `AgentLive`'s `files` option takes.
 *
 *     AgentLive.layerWith({ ..., files: AgentFiles.feature({ downloadsDir: path.join(home, "downloads") }) }, presence)
 *
 * The feature dials a peer when a file is offered and no session is up, and, once at start, every
 * peer with an unfinished outgoing transfer (so a transfer broken by a restart resumes without a new
 * message to carry it).
 */
import { Effect, type Scope } from "effect"
import type { Fingerprint, Handle } from "../../domain/brands.js"
import { AgentError } from "../../services/Agent.js"
import { AgentStore } from "../../services/AgentStore.js"
import type { Entropy } from "../../services/Entropy.js"
import type { AgentCore, FilesFeature } from "./core/plugin.js"
import * as FileTransfers from "./files/FileTransfers.js"

export interface AgentFilesOptions {
  /** `H/downloads`. */
  readonly downloadsDir: string
  readonly policy?: FileTransfers.AcceptPolicy | undefined
  /** Our own key's fingerprint: a contact is verified for the safety number of both keys (PROTOCOL.md 10.1). */
  readonly ownFingerprint?: Fingerprint | undefined
}

const agentError = (e: FileTransfers.FileTransferError): AgentError =>
  new AgentError({
    reason: e.reason === "Io" ? "BadRequest" : e.reason,
    message: e.message,
    cause: e
  })

export const feature =
  (options: AgentFilesOptions) =>
  (core: AgentCore): Effect.Effect<FilesFeature, AgentError, AgentStore | Entropy | Scope.Scope> =>
    Effect.gen(function* () {
      const store = yield* AgentStore
      const files = yield* FileTransfers.make({
        downloadsDir: options.downloadsDir,
        policy: options.policy,
        ownFingerprint: options.ownFingerprint,
        connect: (peer) => core.connect(peer)
      })
      // Resume what a restart interrupted: dial the peers we still owe a file (in the background).
      yield* Effect.forkScoped(
        Effect.flatMap(
          Effect.orElseSucceed(files.pendingPeers, () => []),
          (peers) =>
            Effect.forEach(peers, (peer) => Effect.ignore(core.connect(peer)), { concurrency: 4, discard: true })
        )
      )
      const feature: FilesFeature & { readonly pendingPeers: Effect.Effect<ReadonlyArray<Handle>, AgentError> } = {
        plugin: files.plugin,
        sendFile: (peer, path) => Effect.mapError(files.sendFile(peer, path), agentError),
        cancel: (id) =>
          Effect.mapBoth(files.cancelId(id), { onFailure: agentError, onSuccess: (cancelled) => cancelled.length > 0 }),
        expire: (updatedBefore, detail) => Effect.mapError(files.expire(updatedBefore, detail), agentError),
        accept: (peer, id) => Effect.mapError(files.accept({ direction: "in", peer, id }), agentError),
        transfers: (peer) =>
          Effect.mapError(
            store.transfers({ peer }),
            (e) => new AgentError({ reason: "Storage", message: e.message, cause: e })
          ),
        /** For the delivery pump, which dials these peers like peers with messages waiting. */
        pendingPeers: Effect.mapError(
          files.pendingPeers,
          (e) => new AgentError({ reason: "Storage", message: e.message, cause: e })
        )
      }
      return feature
    })
