/**
 * How features plug into a User Agent's sessions (messaging, file transfer): the session manager runs
 * one receive loop per peer and hands every inbound record to the plugins, in order.
 */
import type { Effect, Option } from "effect"
import type { Transfer } from "../../../domain/agent/transfers.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { AgentError, AgentEvent } from "../../../services/Agent.js"
import type { PeerLink, SessionPlugin } from "../../../services/SessionPlugin.js"
import type { SessionError } from "./errors.js"

export type { PeerLink, SessionPlugin } from "../../../services/SessionPlugin.js"

/** What the agent core offers a feature (the file transfers) that needs sessions of its own accord. */
export interface AgentCore {
  readonly self: Handle
  /** The live session with `peer`, if there is one. */
  readonly link: (peer: Handle) => Effect.Effect<Option.Option<PeerLink>>
  /** The session with `peer`, dialing it (Directory, Happy Eyeballs) when there is none. */
  readonly connect: (peer: Handle) => Effect.Effect<PeerLink, SessionError>
  /** Tells subscribers of `Agent.events`. */
  readonly publish: (event: AgentEvent) => Effect.Effect<void>
}

/** A file transfer feature (`src/layers/agent/files`): its plugin and the `Agent` methods it serves. */
export interface FilesFeature {
  readonly plugin: SessionPlugin
  readonly sendFile: (peer: Handle, path: string) => Effect.Effect<Transfer, AgentError>
  /** Cancels transfer `id`; `false` when no transfer has that id. */
  readonly cancel: (id: Id) => Effect.Effect<boolean, AgentError>
  /** Accepts the held incoming transfer `id` from `peer`. */
  readonly accept: (peer: Handle, id: Id) => Effect.Effect<void, AgentError>
  readonly transfers: (peer?: Handle) => Effect.Effect<ReadonlyArray<Transfer>, AgentError>
  /** Gives up unfinished outgoing transfers without progress since `updatedBefore` (the outbox expiry). */
  readonly expire?:
    | ((updatedBefore: number, detail: string) => Effect.Effect<ReadonlyArray<Transfer>, AgentError>)
    | undefined
  /** Peers with unfinished outgoing transfers: delivery dials them like peers with messages waiting. */
  readonly pendingPeers?: Effect.Effect<ReadonlyArray<Handle>, AgentError> | undefined
}
