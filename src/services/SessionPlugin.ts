/**
 * How features plug into a User Agent's sessions (messaging, file transfer): the session manager runs one
 * receive loop per peer and hands every inbound record to the plugins, in order.
 */
import type { Effect } from "effect"
import type { Handle } from "../domain/brands.js"
import type { AppMessage } from "../domain/e2e/messages.js"
import type { ChannelError, SecureChannel } from "./SecureChannel.js"

/** The live session with one peer, as a plugin sees it. */
export interface PeerLink {
  readonly peer: Handle
  readonly send: (message: AppMessage) => Effect.Effect<void, ChannelError>
  /** One binary data record (content type 0x02), at most 64 KiB. */
  readonly sendData: (data: Uint8Array) => Effect.Effect<void, ChannelError>
  /** The channel underneath (session info, verification code). */
  readonly channel: SecureChannel<AppMessage, AppMessage>
}

export interface SessionPlugin {
  readonly name: string
  /**
   * A session with `link.peer` is up (new or replaced): resend what is pending, resume transfers.
   * Runs in a fiber of its own inside the session, so it may keep running as long as the session
   * lasts (it is interrupted when the session ends); the previous session's `onSessionDown` has run.
   */
  readonly onSessionUp: (link: PeerLink) => Effect.Effect<void>
  /** An inbound message; `true` when this plugin handled it (later plugins are not asked). */
  readonly onMessage: (link: PeerLink, message: AppMessage) => Effect.Effect<boolean>
  /** An inbound binary data record. */
  readonly onData: (link: PeerLink, data: Uint8Array) => Effect.Effect<void>
  /**
   * Optional fast path for a data record, a plain call like `Connection.tryWrite`: `true` when the
   * plugin handled the record (or has nothing to do with data records), `false` having changed nothing,
   * and the session then runs `onData` for it. Per 64 KiB record of a file, an effect less to run.
   */
  readonly tryData?: ((link: PeerLink, data: Uint8Array) => boolean) | undefined
  /**
   * The session with `peer` ended (any reason). Not called for a connection that lost a simultaneous
   * open. Runs inside the session's teardown: it must return promptly. `link` is the session that
   * ended (what it opened on that channel can be closed); without it, only the peer is known.
   */
  readonly onSessionDown: (peer: Handle, link?: PeerLink) => Effect.Effect<void>
}
