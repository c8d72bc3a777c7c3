/**
 * SecureChannel: an authenticated, encrypted, framed session with one peer (PROTOCOL.md §§3-5).
 * `SecureChannels.dial` / `accept` run the handshake and give a scoped channel; releasing the scope
 * sends `<Close/>` and ends the connection. The User Agent and the IRP both run on it.
 */
import { Context, Data, type Effect, type Scope } from "effect"
import type { Address, Handle, Role } from "../domain/brands.js"
import type { VerifiedCertificate } from "../domain/cert/verify.js"
import type { AlertCode } from "../domain/e2e/messages.js"
import type { Connection } from "./Transport.js"

export type ChannelFailure =
  | "Handshake" // the handshake failed (see `alert` and `cause`, a HandshakeError or CertError)
  | "HandshakeTimeout" // the handshake did not complete within the limit
  | "IdleTimeout" // nothing arrived within the idle limit
  | "WriteTimeout" // the peer did not take our bytes within the write limit
  | "PeerAlert" // the peer sent a fatal alert (`alert`)
  | "BadRecordMac" // a record did not authenticate
  | "Frame" // zero-length, oversized or torn frame (PROTOCOL.md §3.3), or record content over the limit (§11.6)
  | "Decode" // a document that is not well-formed, hardened XML or fails its schema
  | "UnexpectedMessage" // a message that has no place here
  | "Truncated" // a truncation: the stream ended at a frame boundary without `<Close/>` (§3.5, §11.9)
  | "Closed" // the channel was closed (cleanly) before this operation
  | "Transport" // the connection failed underneath

export class ChannelError extends Data.TaggedError("ChannelError")<{
  readonly reason: ChannelFailure
  readonly message: string
  /** The alert sent or received, when there was one. */
  readonly alert?: AlertCode | undefined
  readonly cause?: unknown
}> {}

/** Who is on the other end, as proved by the handshake. */
export interface PeerInfo {
  /** The peer's handle; `undefined` for an anonymous initiator or a server certificate. */
  readonly handle: Handle | undefined
  /** `undefined` only for an anonymous initiator (IRP enrolment). */
  readonly certificate: VerifiedCertificate | undefined
  /** The status the peer stapled to its `<Certificate>` (PROTOCOL.md §5.1.3), unchecked; `undefined` when none. */
  readonly staple?: Uint8Array | undefined
}

export interface SessionInfo {
  readonly role: Role
  readonly version: string
  readonly suite: string
  readonly local: Address
  readonly remote: Address
  /** Exporter secret of this session (PROTOCOL.md §9.2). */
  readonly exporter: Uint8Array
  /** Short code both people can compare out of band ("1234 5678 9012"). */
  readonly verificationCode: string
}

/** What `receive` yields. */
export type Inbound<In> =
  | { readonly _tag: "Message"; readonly message: In }
  | { readonly _tag: "Data"; readonly data: Uint8Array }
  | { readonly _tag: "Closed"; readonly reason: string | undefined }

export interface SecureChannel<In, Out> {
  readonly peer: PeerInfo
  readonly session: SessionInfo
  /** Sends one document; concurrent sends are serialised. */
  readonly send: (message: Out) => Effect.Effect<void, ChannelError>
  /**
   * Optional fast path of `send`, for a caller that sends one answer per request (the IRP server): when
   * nothing stands in the way (the channel is open, no other send is in progress, the transport takes the
   * bytes without waiting) the document is sent at once and `true` returned; otherwise nothing is sent and
   * it returns `false`: use `send`, which waits its turn or reports the failure. Saves the effect steps
   * of a send on the common path (issue 15).
   */
  readonly trySend?: ((message: Out) => boolean) | undefined
  /** Sends one binary data record (content type 0x02), at most 64 KiB. */
  readonly sendData: (data: Uint8Array) => Effect.Effect<void, ChannelError>
  /**
   * The next message or data record. `Closed` once the peer closed cleanly; afterwards it fails with `Closed`.
   * A stream that ends without `<Close/>` fails with `Truncated`. Control records are handled inside.
   * Only one fiber may receive at a time.
   */
  readonly receive: Effect.Effect<Inbound<In>, ChannelError>
  /**
   * Sends `<Close reason/>`; idempotent. Also run when the scope closes. The FIN follows at once when
   * the peer closed first, otherwise once the peer's `<Close/>` is received or the scope closes
   * (PROTOCOL.md §11.9): keep receiving to see the peer's answer.
   */
  readonly close: (reason?: string) => Effect.Effect<void>
  /**
   * Ends an established session with a fatal alert of ours (PROTOCOL.md 12.1), e.g. `certificate_revoked`
   * when the peer's certificate was revoked during the session (17.9.3): the alert, sealed, then our
   * FIN; the caller then closes the channel's scope. Does nothing once the channel is closed or failed.
   */
  readonly abort?: ((code: AlertCode, message: string) => Effect.Effect<void>) | undefined
}

/** What a handshake must establish about the responder, from the initiator's side. */
export type Expectation =
  | { readonly _tag: "Handle"; readonly handle: Handle } // a User Agent: certificate for this handle, EKU clientAuth
  | { readonly _tag: "DnsName"; readonly dnsName: string } // an IRP server: SAN dNSName, EKU serverAuth

export interface SecureChannelsService<In, Out> {
  /** Dials, runs the handshake as initiator, checks the responder against `expect`. */
  readonly dial: (
    address: Address,
    expect: Expectation
  ) => Effect.Effect<SecureChannel<In, Out>, ChannelError, Scope.Scope>
  /** Runs the handshake as responder over an accepted connection. */
  readonly accept: (connection: Connection) => Effect.Effect<SecureChannel<In, Out>, ChannelError, Scope.Scope>
  /** Runs the handshake as initiator over an already open connection (used by `dial`, and by tests). */
  readonly initiate: (
    connection: Connection,
    expect: Expectation
  ) => Effect.Effect<SecureChannel<In, Out>, ChannelError, Scope.Scope>
}

/** The E2E channel factory of this node (User Agent to User Agent). */
export class SecureChannels extends Context.Tag("sixchat/SecureChannels")<
  SecureChannels,
  SecureChannelsService<import("../domain/e2e/messages.js").AppMessage, import("../domain/e2e/messages.js").AppMessage>
>() {}
