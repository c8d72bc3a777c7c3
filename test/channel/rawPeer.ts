/**
 * A hand-built initiator over real loopback TCP, for conformance tests (PROTOCOL.md §§3, 6, 11, 12):
 * it runs the handshake with the domain's own steps but sends whatever frames, records and documents
 * a test writes, byte for byte, and reads back what our endpoint answers. It does not check the
 * responder's certificate (the endpoint under test is the responder; its own checks are what count).
 */
import { randomBytes } from "node:crypto"
import { connect, type Socket } from "node:net"
import { Either } from "effect"
import { encodeFrame, FrameDecoder, FrameError, HEADER_LENGTH } from "../../src/domain/channel/framing.js"
import { type TrafficKeys, trafficKeys } from "../../src/domain/channel/keySchedule.js"
import { ContentType, RecordProtection, TAG_LENGTH } from "../../src/domain/channel/record.js"
import { Transcript } from "../../src/domain/channel/transcript.js"
import type { CryptoSuite } from "../../src/domain/crypto/primitives.js"
import type { HelloOffer } from "../../src/domain/e2e/messages.js"
import { decodeE2E, encodeE2E } from "../../src/domain/e2e/xml.js"
import * as Initiator from "../../src/domain/handshake/initiator.js"
import type { LocalIdentity } from "../../src/domain/handshake/parameters.js"
import { AwaitFinished } from "../../src/domain/handshake/peerAuth.js"

const utf8 = new TextEncoder()
const text = new TextDecoder()

/** A TCP socket read as frames (any length up to 2^32 - 1: the test decides what is acceptable). */
export class RawSocket {
  private readonly decoder = new FrameDecoder(0xffffffff)
  private ended = false
  private waiter: (() => void) | undefined

  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.decoder.push(new Uint8Array(d.buffer, d.byteOffset, d.length))
      this.wake()
    })
    const end = () => {
      this.ended = true
      this.wake()
    }
    socket.on("end", end)
    socket.on("close", end)
    socket.on("error", end)
  }

  static open(host: string, port: number): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new RawSocket(socket)))
      socket.once("error", reject)
    })
  }

  private wake() {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** FIN: no more bytes from us. */
  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** The next frame's payload, or `null` when the peer ended the stream (FIN or reset); bounded wait. */
  async frame(timeoutMs = 20_000): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const f = this.decoder.next()
      if (f instanceof FrameError) throw f
      if (f !== undefined) return f
      if (this.ended) return null
      const left = deadline - Date.now()
      if (left <= 0) throw new Error("no frame within the time limit")
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiter = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
  }
}

export interface RawSession {
  readonly socket: RawSocket
  /** Seals `content` as one application record of `type` (no size check: the test decides). */
  readonly sendRecord: (type: ContentType, content: Uint8Array) => void
  /** Seals one XML document given as text. */
  readonly sendXml: (xml: string) => void
  /** The next record from the endpoint, opened; `null` once it ended the stream. */
  readonly nextRecord: (timeoutMs?: number) => Promise<{ readonly type: ContentType; readonly text: string } | null>
}

/** Our first Hello, as `Initiator.begin` writes it, possibly rewritten by the test. */
export type OfferEdit = (offer: HelloOffer) => HelloOffer

/**
 * Plays the initiator up to the end of the handshake: our Hello (edited by `edit`), the responder's
 * Hello and flight (its bytes go into the transcript unchecked), then our own flight. Returns the
 * application-key session, or, when the responder answers the Hello with a plaintext alert, that alert.
 */
export const rawHandshake = async (
  socket: RawSocket,
  crypto: CryptoSuite,
  identity: LocalIdentity,
  edit: OfferEdit = (o) => o
): Promise<RawSession | { readonly alert: string }> => {
  const random = new Uint8Array(randomBytes(32))
  const secret = new Uint8Array(randomBytes(32))
  const config = { crypto, identity, allowAnonymousPeer: false }
  const begun = Initiator.begin(config, random, secret)
  const offer = edit(begun.state.offer)
  const hello = encodeE2E(offer)
  const state = new Initiator.AwaitHello(config, offer, begun.state.keyPair, new Transcript(crypto.hashing).add(hello))
  socket.write(encodeFrame(hello))
  const first = await socket.frame()
  if (first === null) throw new Error("the responder ended the stream instead of answering our Hello")
  const choice = Either.getOrThrow(decodeE2E(first, "choice"))
  if (choice._tag === "e2e.Alert") return { alert: choice.code }
  if (choice._tag !== "e2e.HelloChoice") throw new Error(`expected the responder's Hello, got ${choice._tag}`)
  const { next, keys } = Either.getOrThrow(state.onHello(first, choice))
  const hsRead = new RecordProtection(crypto.aead, keys.read)
  const hsWrite = new RecordProtection(crypto.aead, keys.write)
  const flightDocs: Array<Uint8Array> = []
  for (let i = 0; i < 3; i++) {
    const payload = await socket.frame()
    const opened = payload === null ? null : hsRead.open(payload)
    if (opened === null) throw new Error("the responder's flight did not open")
    flightDocs.push(opened.content)
  }
  // This raw peer does not check the responder's chain (it plays a second implementation driving the
  // responder), but the proof it needs can only come out of a verified Finished: it checks that much.
  const [certificateDoc, verifyDoc, finishedDoc] = flightDocs as [Uint8Array, Uint8Array, Uint8Array]
  state.transcript.add(certificateDoc).add(verifyDoc)
  const finished = Either.getOrThrow(decodeE2E(finishedDoc))
  if (finished._tag !== "e2e.Finished") throw new Error(`expected the responder's Finished, got ${finished._tag}`)
  const checkFinished = new AwaitFinished(
    {
      hashing: crypto.hashing,
      signatures: crypto.signatures,
      transcript: state.transcript,
      peerRole: "responder",
      peerSecret: next.secrets.responder,
      allowAnonymous: false,
      ownFingerprint: undefined,
      acceptedSigAlgs: []
    },
    null
  )
  const proof = Either.getOrThrow(checkFinished.onFinished(finishedDoc, finished))
  const { flight, established } = next.onPeerAuthenticated(proof)
  for (const doc of flight) socket.write(hsWrite.seal(ContentType.Xml, doc))
  const read = new RecordProtection(crypto.aead, trafficKeys(crypto.hashing, established.readSecret))
  const seal = rawSealer(crypto, trafficKeys(crypto.hashing, established.writeSecret))
  const sendRecord = (type: ContentType, content: Uint8Array) => {
    const inner = new Uint8Array(content.length + 1)
    inner.set(content)
    inner[content.length] = type
    socket.write(seal(inner))
  }
  return {
    socket,
    sendRecord,
    sendXml: (xml) => sendRecord(ContentType.Xml, utf8.encode(xml)),
    nextRecord: async (timeoutMs) => {
      const payload = await socket.frame(timeoutMs)
      if (payload === null) return null
      const opened = read.open(payload)
      if (opened === null) throw new Error("a record from the endpoint did not open")
      return { type: opened.type, text: text.decode(opened.content) }
    }
  }
}

/**
 * Seals any `inner` (content || type byte) as §11.2-11.3 say, with its own sequence number:
 * `RecordProtection.seal` refuses content over the limit, as a sender must; a test builds the rest.
 */
const rawSealer = (crypto: CryptoSuite, keys: TrafficKeys) => {
  const key = crypto.aead.importKey(keys.key)
  let sequence = 0n
  return (inner: Uint8Array): Uint8Array => {
    const nonce = keys.iv.slice()
    const view = new DataView(nonce.buffer)
    view.setBigUint64(4, view.getBigUint64(4) ^ sequence)
    sequence++
    const header = new Uint8Array(HEADER_LENGTH)
    new DataView(header.buffer).setUint32(0, inner.length + TAG_LENGTH)
    const sealed = key.seal(nonce, inner, header)
    const frame = new Uint8Array(HEADER_LENGTH + sealed.length)
    frame.set(header)
    frame.set(sealed, HEADER_LENGTH)
    return frame
  }
}

/** A plaintext frame carrying `xml` (a Hello, or an alert before keys). */
export const plainFrame = (xml: string): Uint8Array => encodeFrame(utf8.encode(xml))
