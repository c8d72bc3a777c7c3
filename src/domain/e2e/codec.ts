/**
 * The User Agent protocol's codec for the secure channel (PROTOCOL.md §5.3-5.5): the application
 * messages of `urn:sixchat:e2e:1`, and the channel's answer to a `<Ping/>` (§11.10.2). Pure.
 */
import { Either } from "effect"
import type { MessageCodec } from "../channel/codec.js"
import { DecodeError } from "../xml/DecodeError.js"
import { type AppMessage, E2E_NAMESPACE } from "./messages.js"
import { e2eFromElement, encodeE2E } from "./xml.js"

const APP_TAGS = new Set<string>([
  "e2e.Message",
  "e2e.Ack",
  "e2e.Read",
  "e2e.Typing",
  "e2e.Ping",
  "e2e.Pong",
  "e2e.FileOffer",
  "e2e.FileAccept",
  "e2e.FileDone",
  "e2e.FileAck",
  "e2e.FileCancel"
])

/** §5.5: after the handshake, a document that is not an application message is a `decode_error`. */
export const e2eCodec: MessageCodec<AppMessage, AppMessage> = {
  encode: encodeE2E,
  decode: (el) => {
    if (el.namespace !== E2E_NAMESPACE)
      return Either.left(new DecodeError({ reason: "Namespace", message: `unexpected namespace ${el.namespace}` }))
    const decoded = e2eFromElement(el)
    if (Either.isLeft(decoded) || APP_TAGS.has(decoded.right._tag))
      return decoded as Either.Either<AppMessage, DecodeError>
    return Either.left(
      new DecodeError({ reason: "UnknownElement", message: `<${el.name}> is not an application message` })
    )
  },
  // §11.10.2: the channel answers each <Ping/> with a <Pong/> carrying the same nonce.
  answer: (m) =>
    m._tag !== "e2e.Ping"
      ? undefined
      : m.nonce === undefined
        ? { _tag: "e2e.Pong" }
        : { _tag: "e2e.Pong", nonce: m.nonce }
}
