/**
 * An established channel (PROTOCOL.md §11): sealing, opening, KeyUpdate, Close, alerts, idle limit.
 * Per-record paths stay untraced and allocation-light.
 */
import { Duration, Effect, Either, type Scope } from "effect"
import type { MessageCodec } from "../../domain/channel/codec.js"
import { RECORD_FRAME_LIMIT } from "../../domain/channel/framing.js"
import { nextTrafficSecret, trafficKeys, verificationCode } from "../../domain/channel/keySchedule.js"
import { ContentType, MAX_CONTENT, RecordProtection } from "../../domain/channel/record.js"
import type { CryptoSuite } from "../../domain/crypto/primitives.js"
import { alertIn, describeAlert } from "../../domain/e2e/alert.js"
import { type AlertCode, E2E_NAMESPACE } from "../../domain/e2e/messages.js"
import { e2eFromElement, encodeE2E } from "../../domain/e2e/xml.js"
import type { Established } from "../../domain/handshake/established.js"
import { parseXml } from "../../domain/xml/parse.js"
import {
  ChannelError,
  type Inbound,
  type PeerInfo,
  type SecureChannel,
  type SessionInfo
} from "../../services/SecureChannel.js"
import type { Connection, OutBytes, TransportError } from "../../services/Transport.js"
import { type FrameReader, lingerClose, sendAlert, transportError } from "./FrameIo.js"
import { SendLock } from "./SendLock.js"
import type { Expiry, Watchdog } from "./Watchdog.js"

export interface ChannelLimits {
  readonly idleTimeout: Duration.Duration
  readonly writeTimeout: Duration.Duration
  /** Records sent under one key before we move to the next (the KeyUpdate itself included). */
  readonly rekeyAfterRecords: bigint
}

const CONTROL = new Set(["Alert", "KeyUpdate", "Close"])

/** A document or chunk too large for one record (§11.6): that send fails, the channel goes on. */
class Oversized {
  constructor(readonly length: number) {}
  error(): ChannelError {
    return new ChannelError({
      reason: "Frame",
      message: `a record holds at most ${MAX_CONTENT} bytes and this one has ${this.length}: nothing was sent; send less at a time`
    })
  }
}
/** After an idle timeout: how long the peer gets to read our alert and close before the reset. */
const IDLE_LINGER = Duration.seconds(1)
const KEY_UPDATE = encodeE2E({ _tag: "e2e.KeyUpdate" })
const NOTHING = new Uint8Array(0)

/** An Alert the responder sealed under its handshake key after refusing our flight (see HandshakeResult). */
const lateHandshakeAlert = (protection: RecordProtection, payload: Uint8Array): ChannelError | undefined => {
  const opened = protection.open(payload)
  const alert = opened === null || opened.type !== ContentType.Xml ? undefined : alertIn(opened.content)
  if (alert === undefined) return undefined
  return new ChannelError({
    reason: "PeerAlert",
    alert: alert.code,
    message: `the peer refused the handshake: ${describeAlert(alert)}`
  })
}

/**
 * What a channel tells about its session. The verification code is derived when first read (issue 15:
 * an HMAC and BigInt arithmetic per handshake and side that most sessions never show), from the exporter
 * the session keeps anyway; a prototype getter, not one in an object literal, which would give every
 * session a hidden class of its own (+1.5 KiB per idle connection pair, measured).
 */
class Session implements SessionInfo {
  #code: string | undefined = undefined
  readonly #hashing: CryptoSuite["hashing"]
  constructor(
    readonly role: SessionInfo["role"],
    readonly version: string,
    readonly suite: string,
    readonly local: SessionInfo["local"],
    readonly remote: SessionInfo["remote"],
    readonly exporter: Uint8Array,
    hashing: CryptoSuite["hashing"]
  ) {
    this.#hashing = hashing
  }

  get verificationCode(): string {
    if (this.#code === undefined) this.#code = verificationCode(this.#hashing, this.exporter)
    return this.#code
  }
}

export const makeChannel = <In, Out>(
  conn: Connection,
  reader: FrameReader,
  crypto: CryptoSuite,
  codec: MessageCodec<In, Out>,
  established: Established,
  protections: { read: RecordProtection; write: RecordProtection; lateAlerts?: RecordProtection | undefined },
  limits: ChannelLimits,
  watchdog: Watchdog
): Effect.Effect<SecureChannel<In, Out>, never, Scope.Scope> => {
  // What the channel keeps of the handshake is read here, outside the generator: a parameter the
  // generator referred to would be kept, with everything it holds, for as long as any of the channel's
  // closures lives (the initiator's handshake read key in `protections.lateAlerts` among it; issue 15).
  // The effect runs once per connection, so this state is its own.
  let read = protections.read
  let write = protections.write
  let readSecret = established.readSecret
  let writeSecret = established.writeSecret
  let lateAlerts = protections.lateAlerts
  const cert = established.peer.certificate
  const staple = established.peer.staple
  const peer: PeerInfo =
    staple === undefined
      ? { handle: cert?.handle, certificate: cert ?? undefined }
      : { handle: cert?.handle, certificate: cert ?? undefined, staple }
  const session: SessionInfo = new Session(
    established.role,
    established.version,
    established.suite,
    conn.local,
    conn.remote,
    established.exporter,
    crypto.hashing
  )
  return Effect.gen(function* () {
    const { hashing, aead } = crypto
    reader.decoder.setLimit(RECORD_FRAME_LIMIT)
    // `receive` is done with a frame's payload before it reads the next one (it opens it into fresh memory).
    reader.decoder.reuseAssembly()
    /** First terminal condition wins: later operations report it. */
    let failure: ChannelError | undefined
    let sentClose = false
    let peerClosed = false
    const lock = new SendLock(() => watchdog.writeDone())
    const rekeyAt = Number(limits.rekeyAfterRecords)

    const closedError = () => failure ?? new ChannelError({ reason: "Closed", message: "the channel is closed" })

    /**
     * Seal one record, first moving to the next key when this one is used up. A large record comes
     * as parts (header, ciphertext, tag) that the transport writes gathered, without a joining copy.
     */
    const sealRecord = (type: ContentType, content: Uint8Array): OutBytes => {
      if (content.length > MAX_CONTENT) throw new Oversized(content.length)
      if (write.count + 1 >= rekeyAt) {
        const update = write.seal(ContentType.Xml, KEY_UPDATE)
        writeSecret = nextTrafficSecret(hashing, writeSecret)
        write = new RecordProtection(aead, trafficKeys(hashing, writeSecret))
        const record = write.sealForWrite(type, content)
        return record instanceof Uint8Array ? [update, record] : [update, ...record]
      }
      return write.sealForWrite(type, content)
    }

    const writeFailed = (e: TransportError) => terminate(transportError(e))
    // What `trySendRecord` seals, set while it holds the lock: the transport calls one closure made per
    // channel rather than one made per send.
    let sealType: ContentType = ContentType.Xml
    let sealContent: Uint8Array | (() => Uint8Array) = NOTHING
    const sealHeld = () => sealRecord(sealType, typeof sealContent === "function" ? sealContent() : sealContent)
    /**
     * Sends at once, with no effect, when nothing stands in the way (the channel is open, the lock is
     * free and the transport takes the bytes without waiting): the path of nearly every send. `content`
     * is a value or, for documents, the encoder to run once the lock is held. `false`: nothing was sent
     * (not even a part of a record), and `sendLocked` does it, or reports why it cannot (an oversized
     * document or a failing encoder is encoded again there and fails as it always did).
     */
    const trySendRecord = (type: ContentType, content: Uint8Array | (() => Uint8Array)): boolean => {
      if (failure !== undefined || sentClose || conn.tryWrite === undefined || !lock.tryHold()) return false
      sealType = type
      sealContent = content
      try {
        return conn.tryWrite(sealHeld)
      } catch {
        return false
      } finally {
        sealContent = NOTHING
        lock.release()
      }
    }
    /**
     * The document `trySend` is sending, and its encoder: one closure per channel instead of one per send
     * (a fresh closure per request is garbage plus a lazy-compile step on its first call; issue 15).
     */
    let toSend: Out | undefined
    const encodeToSend = () => codec.encode(toSend as Out)
    const trySend = (message: Out): boolean => {
      toSend = message
      try {
        return trySendRecord(ContentType.Xml, encodeToSend)
      } finally {
        toSend = undefined
      }
    }
    const sendRecord = (
      type: ContentType,
      content: Uint8Array | (() => Uint8Array)
    ): Effect.Effect<void, ChannelError> => (trySendRecord(type, content) ? Effect.void : sendLocked(type, content))
    const sendLocked = (type: ContentType, content: Uint8Array | (() => Uint8Array)) =>
      lock.withLock(
        Effect.suspend(() => {
          if (failure !== undefined || sentClose) return Effect.fail(closedError())
          // The write limit (Watchdog) counts while the transport holds us back; on expiry it ends the
          // channel with WriteTimeout and resets the connection, which fails this write. The lock's
          // release clears it.
          watchdog.writing()
          const bytes = typeof content === "function" ? content() : content
          if (bytes.length > MAX_CONTENT) return Effect.fail(new Oversized(bytes.length).error())
          return Effect.mapError(conn.write(sealRecord(type, bytes)), writeFailed)
        })
      )

    /** Records a fatal condition; the connection is torn down. */
    const terminate = (e: ChannelError): ChannelError => {
      if (failure === undefined) failure = e
      watchdog.disarm()
      return failure
    }

    const fatal = (e: ChannelError) =>
      Effect.suspend(() => {
        const first = failure === undefined
        terminate(e)
        const alert = first && e.alert !== undefined && e.reason !== "PeerAlert" ? e.alert : undefined
        return (alert === undefined ? Effect.void : lock.withLock(sendAlert(conn, alert, write))).pipe(
          Effect.zipRight(Effect.forkDaemon(lingerClose(conn))),
          Effect.zipRight(Effect.fail(failure!))
        )
      })

    const close = (reason?: string) =>
      lock.withLock(
        Effect.suspend(() => {
          if (sentClose || failure !== undefined) return Effect.void
          sentClose = true
          const doc = encodeE2E({ _tag: "e2e.Close", ...(reason === undefined ? {} : { reason }) })
          const sent = conn.write(write.seal(ContentType.Xml, doc))
          // §11.9: answering the peer's <Close/>, FIN at once. Closing first, FIN once the peer's
          // <Close/> arrives (`receive`) or the connection is released: a relay that closes both ways
          // on the first FIN would otherwise cut off the peer's <Close/> (issue 10 §1).
          return (peerClosed ? Effect.zipRight(sent, conn.end) : sent).pipe(Effect.ignore)
        })
      )

    /** See `SecureChannel.abort`: our alert, best effort, then FIN (12.1: no further input is processed). */
    const abort = (code: AlertCode, message: string) =>
      Effect.suspend(() => {
        if (sentClose || failure !== undefined) return Effect.void
        terminate(new ChannelError({ reason: "Closed", alert: code, message }))
        return lock.withLock(sendAlert(conn, code, write)).pipe(Effect.zipRight(Effect.ignore(conn.end)))
      })

    const decodeFailure = (message: string, cause?: unknown) =>
      new ChannelError({ reason: "Decode", alert: "decode_error", message, cause })

    /** What one record is to the user of the channel; control records are handled here. */
    const onPayload = (payload: Uint8Array | null | ChannelError): Effect.Effect<Inbound<In>, ChannelError> => {
      watchdog.readDone()
      if (payload instanceof ChannelError) return fatal(payload)
      if (payload === null) {
        return fatal(
          new ChannelError({
            reason: "Truncated",
            message: "the connection ended without <Close/>: data may be missing"
          })
        )
      }
      const opened = read.open(payload)
      if (opened === null) {
        const alert = lateAlerts === undefined ? undefined : lateHandshakeAlert(lateAlerts, payload)
        if (alert !== undefined) return fatal(alert)
        return fatal(
          new ChannelError({
            reason: "BadRecordMac",
            alert: "bad_record_mac",
            message: "a record did not authenticate"
          })
        )
      }
      lateAlerts = undefined
      // §11.6: the frame limit admits 65 792 bytes, so content up to 65 775 can authenticate; over
      // MAX_CONTENT it is refused after decryption, as RFC 8446 §5.4 refuses an oversized plaintext.
      if (opened.content.length > MAX_CONTENT)
        return fatal(
          new ChannelError({
            reason: "Frame",
            alert: "record_overflow",
            message: `a record carried ${opened.content.length} bytes of content, over the limit of ${MAX_CONTENT}`
          })
        )
      if (opened.type === ContentType.Data) return Effect.succeed({ _tag: "Data", data: opened.content })
      const parsed = parseXml(opened.content)
      if (Either.isLeft(parsed))
        return fatal(decodeFailure(`a document is not acceptable XML: ${parsed.left.message}`, parsed.left))
      const el = parsed.right
      if (el.namespace === E2E_NAMESPACE && CONTROL.has(el.name)) {
        const control = e2eFromElement(el)
        if (Either.isLeft(control)) return fatal(decodeFailure(control.left.message, control.left))
        const m = control.right
        if (m._tag === "e2e.KeyUpdate") {
          readSecret = nextTrafficSecret(hashing, readSecret)
          read = new RecordProtection(aead, trafficKeys(hashing, readSecret))
          return receive
        }
        if (m._tag === "e2e.Close") {
          peerClosed = true
          watchdog.disarm()
          // Our own <Close/> went first: only the FIN is left (after it, under the lock).
          const reply = sentClose ? lock.withLock(conn.end) : close()
          return reply.pipe(Effect.as<Inbound<In>>({ _tag: "Closed", reason: m.reason }))
        }
        if (m._tag === "e2e.Alert")
          return fatal(
            new ChannelError({
              reason: "PeerAlert",
              alert: m.code,
              message: `the peer ended the session: ${describeAlert(m)}`
            })
          )
      }
      const decoded = codec.decode(el)
      if (Either.isLeft(decoded)) return fatal(decodeFailure(decoded.left.message, decoded.left))
      const message: Inbound<In> = { _tag: "Message", message: decoded.right }
      // §11.10.2: a <Ping/> is answered here, for every user of the channel, then handed on (the
      // application sees the peer is alive; it MUST NOT answer again). A failed send is the
      // channel's failure, which the next operation reports.
      const answer = codec.answer?.(decoded.right)
      if (answer === undefined) return Effect.succeed(message)
      return Effect.as(Effect.ignore(sendRecord(ContentType.Xml, () => codec.encode(answer))), message)
    }
    // Built once: a record's bytes reach `onPayload` in the step that reads them (`FrameReader.frames`).
    const nextRecord = reader.frames(onPayload)

    const receive: Effect.Effect<Inbound<In>, ChannelError> = Effect.suspend(() => {
      if (failure !== undefined) return Effect.fail(failure)
      if (peerClosed) return Effect.fail(closedError())
      // The idle limit counts from here (see Watchdog): on expiry it ends the channel with IdleTimeout.
      watchdog.reading()
      return nextRecord()
    })

    /**
     * A limit passed (see Watchdog). Idle: the receive in progress still waits in `conn.read`, so no
     * lingering read here; send the alert, end our side, and give the peer a second to read it and
     * close (its FIN ends our read) before the reset. Write: the peer stopped reading; reset at once.
     * Either way the pending operation then fails and reports the recorded failure.
     */
    const onExpire = (expiry: Expiry): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.void
        if (expiry === "write") {
          terminate(
            new ChannelError({ reason: "WriteTimeout", message: "the peer stopped reading: a send waited too long" })
          )
          return conn.destroy
        }
        terminate(
          new ChannelError({
            reason: "IdleTimeout",
            alert: "timeout",
            message: "the peer sent nothing within the idle limit"
          })
        )
        return lock
          .withLock(sendAlert(conn, "timeout", write))
          .pipe(Effect.zipRight(conn.end), Effect.zipRight(Effect.sleep(IDLE_LINGER)), Effect.ensuring(conn.destroy))
      })
    yield* watchdog.establish(limits, onExpire)

    return {
      peer,
      session,
      // The common path sends at once through `trySend` (no closure made per send); otherwise the locked path.
      send: (message: Out) =>
        Effect.suspend(() =>
          trySend(message) ? Effect.void : sendLocked(ContentType.Xml, () => codec.encode(message))
        ),
      trySend,
      sendData: (data: Uint8Array) =>
        data.length > MAX_CONTENT
          ? Effect.fail(
              new ChannelError({ reason: "Frame", message: `a data record holds at most ${MAX_CONTENT} bytes` })
            )
          : Effect.suspend(() => sendRecord(ContentType.Data, data)),
      receive,
      close,
      abort
    }
  })
}
