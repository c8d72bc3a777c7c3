/**
 * Directory: where a peer can be reached now (PROTOCOL.md §§2 and 17). The User Agent asks it before
 * dialing and watches it to retry at once when a peer moves. Implemented over the IRP client
 * (`layers/agent/IrpDirectory`) and in memory for tests and simulations (`test/support/MemoryDirectory`).
 */
import { Context, Data, type Effect, type Stream } from "effect"
import type { Address, Handle } from "../domain/brands.js"

export class DirectoryError extends Data.TaggedError("DirectoryError")<{
  readonly reason: "NotFound" | "Revoked" | "Unreachable" | "Refused"
  readonly message: string
  readonly cause?: unknown
}> {}

export interface PeerLocation {
  readonly handle: Handle
  /** Addresses of every unexpired binding, IPv6 first, each at most once. */
  readonly addresses: ReadonlyArray<Address>
  /** SHA-256 of the SPKI of the peer's current certificate, when the directory knows it. */
  readonly fingerprint?: string | undefined
}

export interface DirectoryService {
  readonly lookup: (handle: Handle) => Effect.Effect<PeerLocation, DirectoryError>
  /** Handles among `handles` whose bindings changed, as they change (until the stream's scope closes). */
  readonly watch: (handles: ReadonlyArray<Handle>) => Stream.Stream<Handle, DirectoryError>
  /**
   * The status of one certificate of `handle` by its serial (lower-case hex), fresh from the directory
   * (IRP `Status`, PROTOCOL.md 17.8.1). A directory that cannot tell leaves it out: the agent then
   * re-checks nothing during a session.
   */
  readonly certificateStatus?:
    | ((handle: Handle, serial: string) => Effect.Effect<"good" | "revoked" | "unknown", DirectoryError>)
    | undefined
}

export class Directory extends Context.Tag("sixchat/Directory")<Directory, DirectoryService>() {}
