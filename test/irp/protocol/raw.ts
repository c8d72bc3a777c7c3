/**
 * A hand-built-request client for the IRP conformance tests (PROTOCOL.md §17): a real secure channel to
 * the server (anonymous, or as a given holder) that sends any bytes as one document and hands
 * back each answer decoded strictly as a client must (17.2.5), so a test says exactly what goes on the
 * wire and checks exactly what comes back.
 */
import { Effect, Either } from "effect"
import type { Address } from "../../../src/domain/brands.js"
import type { MessageCodec } from "../../../src/domain/channel/codec.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import type { IrpServerMessage } from "../../../src/domain/irp/messages.js"
import { serverMessageFromElement } from "../../../src/domain/irp/xml.js"
import type { XmlElement } from "../../../src/domain/xml/model.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import { make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import { CertVerifier } from "../../../src/services/CertVerifier.js"
import { cryptoSuite } from "../../../src/services/Crypto.js"
import type { Running } from "./support.js"

export const NS = 'xmlns="urn:sixchat:irp:1"'
export const ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
export const UUID7 = "01890a5d-ac96-774b-bcce-b302099a8057"
const utf8 = new TextEncoder()

const rawCodec: MessageCodec<XmlElement, Uint8Array> = { encode: (bytes) => bytes, decode: Either.right }

/** A channel to the in-process server `running` that sends raw documents: anonymous, or as `identity`. */
export const rawChannel = (running: Running, identity?: RawIdentity) =>
  rawDial(running.address, running.domain.rootCertificate, identity)

/** A key and its chain (DER, leaf first), to connect as their holder. */
export interface RawIdentity {
  readonly pkcs8: Uint8Array
  readonly chain: ReadonlyArray<Uint8Array>
}

/** A channel to the IRP server of example.org at `address` (trusting `anchor`) that sends raw documents. */
export const rawDial = (address: Address, anchor: Uint8Array, identity?: RawIdentity) =>
  Effect.gen(function* () {
    const verifier = yield* CertVerifierLive.make({ anchors: [anchor] })
    const local =
      identity === undefined
        ? null
        : Either.getOrThrow(makeLocalIdentity(yield* cryptoSuite, identity.pkcs8, identity.chain))
    const channels = yield* makeChannels({ codec: rawCodec, identity: local }).pipe(
      Effect.provideService(CertVerifier, verifier)
    )
    const channel = yield* channels.dial(address, { _tag: "DnsName", dnsName: "irp.example.org" })
    /** Sends one document, as text. */
    const send = (document: string) => channel.send(utf8.encode(document))
    /** The next answer, decoded as a client must; dies on anything else (the test then fails). */
    const answer: Effect.Effect<IrpServerMessage, unknown> = Effect.flatMap(channel.receive, (inbound) =>
      inbound._tag === "Message"
        ? Either.match(serverMessageFromElement(inbound.message), {
            onLeft: (e) => Effect.die(new Error(`the server sent an invalid answer: ${e.message}`)),
            onRight: Effect.succeed
          })
        : Effect.die(new Error(`expected an answer, got ${inbound._tag}`))
    )
    /** Sends `document` and reads its one answer. */
    const ask = (document: string) => Effect.zipRight(send(document), answer)
    return { channel, send, answer, ask }
  })
