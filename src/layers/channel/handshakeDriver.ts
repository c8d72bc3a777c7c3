/**
 * Runs the handshake over a connection (PROTOCOL.md §6), a script of named steps in the manner of
 * Go's handshake_client_tls13.go: read, decode, transition, and on any failure send the alert first.
 */
import { Effect, Either } from "effect"
import { concatBytes } from "../../domain/bytes.js"
import type { CertError, Purpose, VerifiedCertificate } from "../../domain/cert/verify.js"
import { encodeFrame } from "../../domain/channel/framing.js"
import { trafficKeys as trafficKeysOf } from "../../domain/channel/keySchedule.js"
import { ContentType, RecordProtection } from "../../domain/channel/record.js"
import type { CryptoSuite } from "../../domain/crypto/primitives.js"
import { alertIn, describeAlert } from "../../domain/e2e/alert.js"
import type { Alert, AlertCode, E2EMessage } from "../../domain/e2e/messages.js"
import { decodeE2E } from "../../domain/e2e/xml.js"
import { fail, type HandshakeError } from "../../domain/handshake/errors.js"
import type { Established } from "../../domain/handshake/established.js"
import * as Initiator from "../../domain/handshake/initiator.js"
import type { HandshakeConfig } from "../../domain/handshake/parameters.js"
import type {
  AwaitCertificate,
  AwaitCertificateVerify,
  AwaitChainCheck,
  AwaitFinished,
  PeerAuthenticated
} from "../../domain/handshake/peerAuth.js"
import * as Responder from "../../domain/handshake/responder.js"
import type { CertVerifierService } from "../../services/CertVerifier.js"
import type { EntropyService } from "../../services/Entropy.js"
import { ChannelError, type Expectation } from "../../services/SecureChannel.js"
import type { Connection, TransportError } from "../../services/Transport.js"
import { type FrameReader, sendAlert } from "./FrameIo.js"

export interface HandshakeResult {
  readonly established: Established
  readonly read: RecordProtection
  readonly write: RecordProtection
  /**
   * Initiator only: the responder's handshake read protection. The responder derives its application
   * keys only after our Finished, so an alert it sends about our flight is still under its handshake key.
   */
  readonly lateAlerts?: RecordProtection
}

interface Io {
  readonly conn: Connection
  readonly reader: FrameReader
  readonly crypto: CryptoSuite
  /** Our current handshake write protection, once keys exist (alerts are sealed with it). */
  write: RecordProtection | undefined
  read: RecordProtection | undefined
}

const certAlert = (e: CertError): AlertCode => {
  switch (e.reason) {
    case "Expired":
    case "NotYetValid":
      return "certificate_expired"
    case "Revoked":
      return "certificate_revoked"
    case "UnknownIssuer":
      return "unknown_ca"
    case "IdentityMismatch":
      return "identity_mismatch"
    case "UnsupportedAlgorithm":
      return "unsupported_certificate"
    default:
      return "bad_certificate"
  }
}

const fromEither = <A>(e: Either.Either<A, HandshakeError>): Effect.Effect<A, HandshakeError> =>
  Either.isRight(e) ? Effect.succeed(e.right) : Effect.fail(e.left)

const peerAlert = (alert: Alert) =>
  new ChannelError({
    reason: "PeerAlert",
    alert: alert.code,
    message: `the peer refused the handshake: ${describeAlert(alert)}`
  })

const truncated = () =>
  new ChannelError({
    reason: "Truncated",
    message: "the peer closed the connection during the handshake (a truncation, PROTOCOL.md §3.5)"
  })

type Received = { readonly raw: Uint8Array; readonly message: E2EMessage }

/** Opens (once keys exist) and decodes one handshake record; a peer Alert ends the handshake. */
const receivedFrom = (
  io: Io,
  payload: Uint8Array,
  hello: "offer" | "choice" | undefined
): Received | HandshakeError | ChannelError => {
  let raw = payload
  if (io.read !== undefined) {
    const opened = io.read.open(payload)
    if (opened === null) {
      // A peer that refused our Hello had no keys yet: its alert comes in plaintext.
      const plain = alertIn(payload)
      if (plain !== undefined) return peerAlert(plain)
      return fail("BadFinished", "bad_record_mac", "a handshake record did not authenticate")
    }
    if (opened.type !== ContentType.Xml)
      return fail("UnexpectedMessage", "unexpected_message", "binary data during the handshake")
    raw = opened.content
  }
  const decoded = decodeE2E(raw, hello)
  if (Either.isLeft(decoded))
    return fail(
      "DecodeError",
      "decode_error",
      `a handshake message did not decode: ${decoded.left.message}`,
      decoded.left
    )
  const message: E2EMessage = decoded.right
  if (message._tag === "e2e.Alert") return peerAlert(message)
  return { raw, message }
}

type Expected<T extends E2EMessage["_tag"]> = { raw: Uint8Array; message: Extract<E2EMessage, { _tag: T }> }

/**
 * The next handshake message, which must be a `tag`: plaintext before keys exist, sealed afterwards.
 * One `flatMap` over the frame read rather than a generator: it runs three or four times per handshake
 * on each side (issue 15).
 */
const readExpected = <T extends E2EMessage["_tag"]>(
  io: Io,
  tag: T,
  hello?: "offer" | "choice"
): Effect.Effect<Expected<T>, HandshakeError | ChannelError> =>
  Effect.flatMap(io.reader.next, (payload) => {
    if (payload === null) return Effect.fail(truncated())
    const received = receivedFrom(io, payload, hello)
    if (!("raw" in received)) return Effect.fail(received)
    return received.message._tag === tag
      ? Effect.succeed(received as Expected<T>)
      : Effect.fail(
          fail(
            "UnexpectedMessage",
            "unexpected_message",
            `expected ${tag.slice(4)}, got ${received.message._tag.slice(4)}`
          )
        )
  })

const chainRefused = (e: CertError): HandshakeError =>
  fail("BadCertificate", certAlert(e), `the peer's certificate was refused: ${e.message}`, e)

/**
 * Certificate -> chain check -> CertificateVerify -> Finished, for either role: one named step per
 * message, each a `flatMap` (a generator here cost more CPU than the steps' own glue; issue 15).
 */
const authenticatePeer = (
  io: Io,
  start: AwaitCertificate,
  verifier: CertVerifierService,
  purpose: Purpose,
  expect: Expectation | undefined
): Effect.Effect<PeerAuthenticated, HandshakeError | ChannelError> => {
  const awaitFinished = (state: AwaitFinished) =>
    Effect.flatMap(readExpected(io, "e2e.Finished"), (fin) => fromEither(state.onFinished(fin.raw, fin.message)))
  const awaitCertificateVerify = (state: AwaitCertificateVerify) =>
    Effect.flatMap(readExpected(io, "e2e.CertificateVerify"), (cv) => {
      const next = state.onCertificateVerify(cv.raw, cv.message)
      return Either.isLeft(next) ? Effect.fail(next.left) : awaitFinished(next.right)
    })
  const checkChain = (state: AwaitChainCheck) =>
    Effect.flatMap(
      Effect.mapError(
        verifier.verify({
          chain: state.chain,
          purpose,
          expectedHandle: expect?._tag === "Handle" ? expect.handle : undefined,
          expectedDnsName: expect?._tag === "DnsName" ? expect.dnsName : undefined
        }),
        chainRefused
      ),
      (proof: VerifiedCertificate) => {
        const next = state.onVerified(proof)
        return Either.isLeft(next) ? Effect.fail(next.left) : awaitCertificateVerify(next.right)
      }
    )
  return Effect.flatMap(readExpected(io, "e2e.Certificate"), (cert) => {
    const next = start.onCertificate(cert.raw, cert.message)
    if (Either.isLeft(next)) return Effect.fail(next.left)
    return next.right._tag === "AwaitChainCheck" ? checkChain(next.right) : awaitFinished(next.right)
  })
}

const sealAll = (protection: RecordProtection, messages: ReadonlyArray<Uint8Array>): Array<Uint8Array> =>
  messages.map((m) => protection.seal(ContentType.Xml, m))

const concat = concatBytes

const writeFailed = (cause: TransportError) =>
  new ChannelError({ reason: "Transport", message: `the connection failed: ${cause.message}`, cause })

const write = (io: Io, bytes: Uint8Array) => Effect.mapError(io.conn.write(bytes), writeFailed)

/** Sends the alert for a handshake failure, then turns it into a ChannelError. */
const onFailure = (io: Io) => (e: HandshakeError | ChannelError) =>
  e._tag === "HandshakeError"
    ? sendAlert(io.conn, e.alert, io.write, e.message).pipe(
        Effect.zipRight(
          Effect.fail(
            new ChannelError({ reason: "Handshake", alert: e.alert, message: e.message, cause: e.cause ?? e })
          )
        )
      )
    : e.reason === "Decode" || e.reason === "Frame"
      ? sendAlert(io.conn, e.alert ?? "decode_error", io.write).pipe(Effect.zipRight(Effect.fail(e)))
      : Effect.fail(e)

export const runInitiator = (
  conn: Connection,
  reader: FrameReader,
  config: HandshakeConfig,
  entropy: EntropyService,
  verifier: CertVerifierService,
  expect: Expectation
): Effect.Effect<HandshakeResult, ChannelError> => {
  const io: Io = { conn, reader, crypto: config.crypto, write: undefined, read: undefined }
  return Effect.gen(function* () {
    const { state, hello } = Initiator.begin(config, entropy.bytes(32), entropy.bytes(32))
    yield* write(io, encodeFrame(hello))
    const reply = yield* readExpected(io, "e2e.HelloChoice", "choice")
    const { peerAuth, next, keys } = yield* fromEither(state.onHello(reply.raw, reply.message))
    io.read = new RecordProtection(config.crypto.aead, keys.read)
    io.write = new RecordProtection(config.crypto.aead, keys.write)
    const purpose = expect._tag === "Handle" ? "client-auth" : "server-auth"
    const proof: PeerAuthenticated = yield* authenticatePeer(io, peerAuth, verifier, purpose, expect)
    const { flight, established } = next.onPeerAuthenticated(proof)
    yield* write(io, concat(sealAll(io.write, flight)))
    return { established, ...appProtections(config, established), lateAlerts: io.read }
  }).pipe(Effect.catchAll(onFailure(io)))
}

export const runResponder = (
  conn: Connection,
  reader: FrameReader,
  config: HandshakeConfig,
  entropy: EntropyService,
  verifier: CertVerifierService
): Effect.Effect<HandshakeResult, ChannelError> => {
  const io: Io = { conn, reader, crypto: config.crypto, write: undefined, read: undefined }
  return Effect.gen(function* () {
    const offer = yield* readExpected(io, "e2e.HelloOffer", "offer")
    const started = yield* fromEither(
      Responder.onHello(config, entropy.bytes(32), entropy.bytes(32), offer.raw, offer.message)
    )
    io.read = new RecordProtection(config.crypto.aead, started.keys.read)
    io.write = new RecordProtection(config.crypto.aead, started.keys.write)
    yield* write(io, concat([encodeFrame(started.hello), ...sealAll(io.write, started.flight)]))
    const proof = yield* authenticatePeer(io, started.peerAuth, verifier, "client-auth", undefined)
    const { established } = started.next.onPeerAuthenticated(proof)
    return { established, ...appProtections(config, established) }
  }).pipe(Effect.catchAll(onFailure(io)))
}

const appProtections = (config: HandshakeConfig, established: Established) => {
  const { hashing, aead } = config.crypto
  return {
    read: new RecordProtection(aead, trafficKeysOf(hashing, established.readSecret)),
    write: new RecordProtection(aead, trafficKeysOf(hashing, established.writeSecret))
  }
}
