/**
 * The hot application messages of a session (`<Message>`, `<Ack>`, `<Read>`, `<Typing>`, `<Ping>`,
 * `<Pong>`), read and written without the generic machinery: every chat message is decoded on one end
 * and encoded on the other, on the path of every round trip (issue 15). Pure.
 *
 * Reading. The Schema path of `./xml.ts` takes the element apart through `Either` helpers, builds an
 * input object and runs it through the message's Schema (~3 µs for a `<Message>`, most of it in
 * `ParseResult` frames). A fast reader checks the same rules in one pass and builds the value itself.
 * The contract, as for the IRP's fast readers (`../irp/decode/parts.ts`; DECISIONS.md "Fast XML
 * readers"): it returns `undefined` ("not decided here") or exactly the value the Schema path returns,
 * same fields in the same order. It decides only valid elements; for anything else the Schema path
 * produces its value or its precise error, so errors are the same by construction
 * (`test/xml/e2eFast.test.ts` checks it on generated and edited documents). Leaf values go through
 * their own schemas' predicates (`isOf(Id)`, …: the schemas' own filters), so PROTOCOL.md §4.4 holds:
 * a value is accepted only when its Schema accepts it.
 *
 * Writing. `writeXml(e2eToElement(m))` builds an element tree and serialises it with checks meant for
 * arbitrary trees (~4 µs for a `<Message>`). These writers produce the same bytes directly, with the
 * same escaping functions (the test compares them byte for byte on generated messages).
 */
import { Id } from "../brands.js"
import { isBlank } from "../xml/chars.js"
import { isOf } from "../xml/is.js"
import type { XmlAttribute, XmlElement } from "../xml/model.js"
import { escapeAttribute, escapeText } from "../xml/write.js"
import { fastHandshakeDocument, fastHandshakeReaders } from "./fastHandshake.js"
import {
  type Ack,
  type Certificate,
  type CertificateVerify,
  type Close,
  E2E_NAMESPACE,
  type Finished,
  type Message,
  MessageBodyText,
  type Ping,
  type Pong,
  type Read,
  Timestamp,
  Token,
  Typing
} from "./messages.js"

const isId = isOf(Id)
const isTimestamp = isOf(Timestamp)
const isBodyText = isOf(MessageBodyText)
const isTypingState = isOf(Typing.fields.state)
/** `Ping.nonce` / `Pong.nonce` (both `Schema.optional(Token)`). */
const isNonce = isOf(Token)

/** An element that is empty (no children, no text, not even blanks) and whose one attribute is `name`. */
const soleAttribute = (e: XmlElement, name: string): string | undefined => {
  if (e.children.length !== 0 || e.text !== "" || e.attributes.length !== 1) return undefined
  const a = e.attributes[0]!
  return a.name === name ? a.value : undefined
}

/** `<Message id sent><Body>text</Body></Message>`: both attributes, one `<Body>` with text only. */
const message = (e: XmlElement): Message | undefined => {
  const attributes = e.attributes
  if (attributes.length !== 2 || e.children.length !== 1 || !isBlank(e.text)) return undefined
  let id: string | undefined
  let sent: string | undefined
  for (const a of attributes as ReadonlyArray<XmlAttribute>)
    if (a.name === "id") id = a.value
    else if (a.name === "sent") sent = a.value
  const body = e.children[0]!
  if (
    body.name !== "Body" ||
    body.namespace !== e.namespace ||
    body.attributes.length !== 0 ||
    body.children.length !== 0
  )
    return undefined
  const text = body.text
  if (!isId(id) || !isTimestamp(sent) || !isBodyText(text)) return undefined
  return { _tag: "e2e.Message", id, sent, body: text }
}

const withId =
  <T extends "e2e.Ack" | "e2e.Read">(_tag: T) =>
  (e: XmlElement): (T extends "e2e.Ack" ? Ack : Read) | undefined => {
    const id = soleAttribute(e, "id")
    return isId(id) ? ({ _tag, id } as T extends "e2e.Ack" ? Ack : Read) : undefined
  }

const withNonce =
  <T extends "e2e.Ping" | "e2e.Pong">(_tag: T) =>
  (e: XmlElement): (T extends "e2e.Ping" ? Ping : Pong) | undefined => {
    if (e.children.length !== 0 || e.text !== "") return undefined
    if (e.attributes.length === 0) return { _tag } as T extends "e2e.Ping" ? Ping : Pong
    const nonce = soleAttribute(e, "nonce")
    return nonce !== undefined && isNonce(nonce) ? ({ _tag, nonce } as T extends "e2e.Ping" ? Ping : Pong) : undefined
  }

/** The fast readers by element name (the root is known to be in the E2E namespace); `<Hello>` is `fastHello`. */
export const fastReaders: Readonly<
  Record<
    string,
    (
      e: XmlElement
    ) => Message | Ack | Read | Typing | Ping | Pong | Certificate | CertificateVerify | Finished | Close | undefined
  >
> = {
  ...fastHandshakeReaders,
  Message: message,
  Ack: withId("e2e.Ack"),
  Read: withId("e2e.Read"),
  Typing: (e) => {
    const state = soleAttribute(e, "state")
    return isTypingState(state) ? { _tag: "e2e.Typing", state } : undefined
  },
  Ping: withNonce("e2e.Ping"),
  Pong: withNonce("e2e.Pong")
}

const OPEN_NS = ` xmlns="${E2E_NAMESPACE}"`

/** The serialised document of a hot message (the string `serialiseXml(e2eToElement(m))` gives), or `undefined`. */
export const fastDocument = (m: { readonly _tag: string }): string | undefined => {
  switch (m._tag) {
    case "e2e.Message": {
      const { id, sent, body } = m as Message
      const head = `<Message${OPEN_NS} id="${escapeAttribute(id)}" sent="${escapeAttribute(sent)}">`
      return body === "" ? `${head}<Body/></Message>` : `${head}<Body>${escapeText(body)}</Body></Message>`
    }
    case "e2e.Ack":
      return `<Ack${OPEN_NS} id="${escapeAttribute((m as Ack).id)}"/>`
    case "e2e.Read":
      return `<Read${OPEN_NS} id="${escapeAttribute((m as Read).id)}"/>`
    case "e2e.Ping":
    case "e2e.Pong": {
      const name = m._tag === "e2e.Ping" ? "Ping" : "Pong"
      const nonce = (m as Ping | Pong).nonce
      return nonce === undefined ? `<${name}${OPEN_NS}/>` : `<${name}${OPEN_NS} nonce="${escapeAttribute(nonce)}"/>`
    }
    default:
      return fastHandshakeDocument(m)
  }
}
