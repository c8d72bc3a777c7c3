/**
 * Why a handshake failed, with the alert that is sent before the connection closes (PROTOCOL.md §6).
 */
import { Data } from "effect"
import type { AlertCode } from "../e2e/messages.js"

export type HandshakeFailure =
  | "UnexpectedMessage" // a message other than the one this step expects
  | "DecodeError" // a handshake message that does not decode
  | "ProtocolVersion" // no common protocol version
  | "NoCommonParameters" // no common suite, group or signature algorithm
  | "IllegalParameter" // a value outside what was offered, a malformed key share
  | "BadKeyShare" // X25519 refused the peer's share (low-order point: all-zero secret)
  | "BadCertificate" // the peer's chain did not verify (see `cause`)
  | "AnonymousRefused" // an empty Certificate where one is required
  | "Reflection" // the peer presented our own certificate
  | "BadSignature" // CertificateVerify does not verify
  | "BadFinished" // Finished does not match the transcript

export class HandshakeError extends Data.TaggedError("HandshakeError")<{
  readonly reason: HandshakeFailure
  readonly alert: AlertCode
  readonly message: string
  readonly cause?: unknown
}> {}

export const fail = (reason: HandshakeFailure, alert: AlertCode, message: string, cause?: unknown): HandshakeError =>
  new HandshakeError({ reason, alert, message, cause })
