/**
 * Every E2E wire message (PROTOCOL.md §§6, 11, 15) as one Effect Schema with a namespaced `_tag`.
 * The Type side is what code acts on; the XML mapping lives in `./xml.ts` alone.
 * Namespace of every element: `urn:sixchat:e2e:1`.
 */
import { Schema } from "effect"
import { Id } from "../brands.js"
import { xmlTextByteLength, xmlTextUpTo } from "../xml/chars.js"

export const E2E_NAMESPACE = "urn:sixchat:e2e:1"

/** Bytes carried as RFC 4648 base64 without line breaks; the mapping enforces the alphabet. */
const Bytes = Schema.Uint8ArrayFromSelf
const bytesOfLength = (n: number) =>
  Bytes.pipe(Schema.filter((b) => b.length === n || `expected exactly ${n} bytes, got ${b.length}`))
const bytesUpTo = (n: number) =>
  Bytes.pipe(Schema.filter((b) => b.length <= n || `expected at most ${n} bytes, got ${b.length}`))

/** A short protocol token (version, suite, group, algorithm names, alert codes). */
export const Token = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.-]{1,64}$/))

export const ProtocolVersion = Schema.Literal("1")
export type ProtocolVersion = typeof ProtocolVersion.Type
export const Suite = Token
export const Group = Token
export const SigAlg = Token

/** One key share: `group` names the key-exchange group (`x25519` today; `x25519-mlkem768` later). */
export const KeyShare = Schema.Struct({ group: Group, key: bytesUpTo(2048) })
export type KeyShare = typeof KeyShare.Type

// --- Handshake (PROTOCOL.md §5.1, §6) ---------------------------------------------------

/** `<Trust>public</Trust>` in an offer (see `HelloOffer.trust`). */
export const TrustPublic = Schema.Literal("public")

/** Initiator's Hello: everything it offers. Element `<Hello>`; the handshake state tells offer from choice. */
export const HelloOffer = Schema.TaggedStruct("e2e.HelloOffer", {
  random: bytesOfLength(32),
  versions: Schema.NonEmptyArray(Token).pipe(Schema.maxItems(8)),
  keyShares: Schema.NonEmptyArray(KeyShare).pipe(Schema.maxItems(4)),
  suites: Schema.NonEmptyArray(Suite).pipe(Schema.maxItems(16)),
  sigAlgs: Schema.NonEmptyArray(SigAlg).pipe(Schema.maxItems(16)),
  /**
   * `<Trust>public</Trust>` (PROTOCOL.md §22.2.3): an IRP of another domain asks for the responder's
   * public chain (Web PKI, `irp.<domain>`) instead of its domain chain. A User Agent never sends it.
   */
  trust: Schema.optional(TrustPublic)
})
export type HelloOffer = typeof HelloOffer.Type

/** Responder's Hello: exactly one of each. Element `<Hello>`. */
export const HelloChoice = Schema.TaggedStruct("e2e.HelloChoice", {
  random: bytesOfLength(32),
  version: Token,
  keyShare: KeyShare,
  suite: Suite
})
export type HelloChoice = typeof HelloChoice.Type

/** One certificate of a `<Certificate>` chain (DER), and the stapled status's bytes. */
export const CertificateDer = bytesUpTo(8192)
export const StapledStatus = bytesUpTo(1024)

/** Certificate chain, leaf first, DER; empty for an anonymous IRP initiator (PROTOCOL.md §14). */
export const Certificate = Schema.TaggedStruct("e2e.Certificate", {
  chain: Schema.Array(CertificateDer).pipe(Schema.maxItems(5)),
  /** The leaf's stapled status (PROTOCOL.md §13.6.1), opaque here; absent when none is sent. */
  status: Schema.optional(StapledStatus)
})
export type Certificate = typeof Certificate.Type

export const CertificateVerify = Schema.TaggedStruct("e2e.CertificateVerify", {
  algorithm: SigAlg,
  signature: bytesUpTo(512)
})
export type CertificateVerify = typeof CertificateVerify.Type

export const Finished = Schema.TaggedStruct("e2e.Finished", { mac: bytesOfLength(32) })
export type Finished = typeof Finished.Type

// --- Control (PROTOCOL.md §5.2, §11, §12) -----------------------------------------------

export const AlertCode = Schema.Literal(
  "close_notify",
  "unexpected_message",
  "bad_record_mac",
  "record_overflow",
  "handshake_failure",
  "bad_certificate",
  "unsupported_certificate",
  "certificate_revoked",
  "certificate_expired",
  "certificate_unknown",
  "unknown_ca",
  "illegal_parameter",
  "decode_error",
  "decrypt_error",
  "protocol_version",
  "insufficient_security",
  "internal_error",
  "identity_mismatch",
  "timeout"
)
export type AlertCode = typeof AlertCode.Type

export const Alert = Schema.TaggedStruct("e2e.Alert", {
  code: AlertCode,
  /** At most 256 bytes of UTF-8 once decoded (PROTOCOL.md §5.2.1, §4.5). */
  description: Schema.optional(xmlTextUpTo(256))
})
export type Alert = typeof Alert.Type

/** Moves the sender to its next traffic secret (`traffic upd`). */
export const KeyUpdate = Schema.TaggedStruct("e2e.KeyUpdate", {})
export type KeyUpdate = typeof KeyUpdate.Type

/** Clean end of the session; `reason="duplicate"` for the simultaneous-open loser (PROTOCOL.md §15.4). */
export const Close = Schema.TaggedStruct("e2e.Close", {
  reason: Schema.optional(Token)
})
export type Close = typeof Close.Type

// --- Messaging (PROTOCOL.md §5.3, §15) --------------------------------------------------

/** RFC 3339 UTC timestamp, kept as the validated string. */
export const Timestamp = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/),
  Schema.brand("Timestamp")
)
export type Timestamp = typeof Timestamp.Type

/** Largest `<Body>`: bytes of UTF-8 once decoded (PROTOCOL.md §5.3.1). */
const MAX_BODY_BYTES = 64_000

/**
 * Message text as a receiver checks it (PROTOCOL.md §5.3.1): any characters XML 1.0 can carry, at most
 * 64 000 bytes of UTF-8 once decoded, whatever escapes the sender used.
 */
export const MessageBodyText = xmlTextUpTo(MAX_BODY_BYTES)

/**
 * Message text this implementation can send: the rule above, and at most 64 000 bytes once written with
 * our escapes (`&amp;` and `&#13;` are 5 bytes for 1), so that the `<Message>` fits one record (§11.6)
 * with room to spare. Only text made mostly of `&`, `<`, `>` or CR passes the first and fails this one.
 */
export const MessageBody = MessageBodyText.pipe(
  Schema.filter(
    (s) =>
      xmlTextByteLength(s) <= MAX_BODY_BYTES ||
      "the message is over 64 000 bytes once written (characters such as & count 5 bytes)"
  )
)

export const Message = Schema.TaggedStruct("e2e.Message", { id: Id, sent: Timestamp, body: MessageBodyText })
export type Message = typeof Message.Type
export const Ack = Schema.TaggedStruct("e2e.Ack", { id: Id })
export type Ack = typeof Ack.Type
export const Read = Schema.TaggedStruct("e2e.Read", { id: Id })
export type Read = typeof Read.Type
export const Typing = Schema.TaggedStruct("e2e.Typing", { state: Schema.Literal("active", "paused") })
export type Typing = typeof Typing.Type
export const Ping = Schema.TaggedStruct("e2e.Ping", { nonce: Schema.optional(Token) })
export type Ping = typeof Ping.Type
export const Pong = Schema.TaggedStruct("e2e.Pong", { nonce: Schema.optional(Token) })
export type Pong = typeof Pong.Type

// --- File transfer (PROTOCOL.md §5.4, §15) ----------------------------------------------

/** A file name as offered: 1-255 bytes of UTF-8 once decoded (§5.4.1, §4.5); made safe again on receipt. */
export const FileName = xmlTextUpTo(255).pipe(Schema.minLength(1))
export const FileSize = Schema.BigIntFromSelf.pipe(
  Schema.filter((n) => (n >= 0n && n < 2n ** 63n) || "file size out of range")
)

/**
 * The offer names the file by size and an opaque validator (`etag`, 5.4.1): the sender hashes while
 * it streams, so the whole-file SHA-256 travels in `<FileDone>`, not here.
 */
export const FileOffer = Schema.TaggedStruct("e2e.FileOffer", {
  id: Id,
  name: FileName,
  size: FileSize,
  /** Opaque validator of the file as offered (the sender's choice; this implementation: 5.4.1). */
  etag: Token,
  /**
   * Bytes per data record, 1 … 65 536 as 5.4.1 allows: the record's 24-byte header leaves room for
   * at most 65 512, and a receiver answers more with `<FileCancel reason="bad_request"/>` (5.4.6),
   * so the schema admits it rather than fail the session with `decode_error`.
   */
  chunk: Schema.Int.pipe(Schema.between(1, 65_536))
})
export type FileOffer = typeof FileOffer.Type
export const FileAccept = Schema.TaggedStruct("e2e.FileAccept", { id: Id, offset: FileSize })
export type FileAccept = typeof FileAccept.Type
/** The end of the data: the SHA-256 of the whole file, which the receiver checks before placing it (5.4.3). */
export const FileDone = Schema.TaggedStruct("e2e.FileDone", { id: Id, sha256: bytesOfLength(32) })
export type FileDone = typeof FileDone.Type
export const FileAck = Schema.TaggedStruct("e2e.FileAck", { id: Id })
export type FileAck = typeof FileAck.Type
export const FileCancel = Schema.TaggedStruct("e2e.FileCancel", { id: Id, reason: Schema.optional(Token) })
export type FileCancel = typeof FileCancel.Type

// --- Unions ------------------------------------------------------------------------------

/** Messages of the handshake phase (the `<Hello>` variants are told apart by the state). */
export const HandshakeMessage = Schema.Union(HelloOffer, HelloChoice, Certificate, CertificateVerify, Finished, Alert)
export type HandshakeMessage = typeof HandshakeMessage.Type

/** Records the channel itself handles after the handshake. */
export const ControlMessage = Schema.Union(Alert, KeyUpdate, Close)
export type ControlMessage = typeof ControlMessage.Type

/** Application messages between User Agents. */
export const AppMessage = Schema.Union(
  Message,
  Ack,
  Read,
  Typing,
  Ping,
  Pong,
  FileOffer,
  FileAccept,
  FileDone,
  FileAck,
  FileCancel
)
export type AppMessage = typeof AppMessage.Type

export const E2EMessage = Schema.Union(HandshakeMessage, ControlMessage, AppMessage)
export type E2EMessage = typeof E2EMessage.Type
