/**
 * The reading half of the IRP XML mapping (see `./xml.ts`): strict decoding of every IRP wire message,
 * one decoder per message in `./decode/` (the hot ones with a fast reader in front of their Schema path),
 * and the server's view of an undecodable request. Pure.
 */
import { Either } from "effect"
import { Id } from "../brands.js"
import { DecodeError } from "../xml/DecodeError.js"
import type { XmlElement } from "../xml/model.js"
import { parseXml } from "../xml/parse.js"
import { decodeWith } from "../xml/read.js"
import { parseUtcTimestamp } from "../xml/values.js"
import { serverMessageDecoders } from "./decode/answers.js"
import type { Decoded, MessageDecoder } from "./decode/parts.js"
import { requestDecoders } from "./decode/requests.js"
import { type InvalidRequest, IRP_NAMESPACE } from "./messages.js"
import type { IrpMessage } from "./xmlWrite.js"

// --- Times -------------------------------------------------------------------------------

/** Epoch ms of an RFC 3339 UTC timestamp (fraction truncated to ms); `undefined` unless it names a real instant. */
export const parseTimestamp = parseUtcTimestamp

// --- Decoding ----------------------------------------------------------------------------

type Decoders<A> = Readonly<Record<string, MessageDecoder<A>>>

const decoderOf = <A>(decoders: Decoders<A>, name: string): MessageDecoder<A> | undefined =>
  Object.hasOwn(decoders, name) ? decoders[name] : undefined

/** The decoder of `root`'s message kind, or why there is none (wrong namespace, unknown element). */
const lookUp = <A>(decoders: Decoders<A>, what: string, root: XmlElement): Decoded<MessageDecoder<A>> => {
  if (root.namespace !== IRP_NAMESPACE)
    return Either.left(
      new DecodeError({
        reason: "Namespace",
        message:
          root.namespace === ""
            ? `<${root.name}> has no namespace; IRP messages are in "${IRP_NAMESPACE}".`
            : `<${root.name}> is in namespace "${root.namespace}"; IRP messages are in "${IRP_NAMESPACE}".`
      })
    )
  const decoder = decoderOf(decoders, root.name)
  return decoder === undefined
    ? Either.left(new DecodeError({ reason: "UnknownElement", message: `<${root.name}> is not an IRP ${what}.` }))
    : Either.right(decoder)
}

/** Decodes through the fast reader when it decides, else through the Schema path. */
const fromElement =
  <A>(decoders: Decoders<A>, what: string) =>
  (root: XmlElement): Decoded<A> =>
    Either.flatMap(lookUp(decoders, what, root), (decoder) => {
      const fast = decoder.fast?.(root)
      return fast === undefined ? decoder.schema(root) : Either.right(fast)
    })

/** Decodes through the Schema path only: the reference the fast readers are tested against. */
const fromElementBySchema =
  <A>(decoders: Decoders<A>, what: string) =>
  (root: XmlElement): Decoded<A> =>
    Either.flatMap(lookUp(decoders, what, root), (decoder) => decoder.schema(root))

/** What the fast reader alone makes of `root` (already known to be in the IRP namespace); `undefined` if it steps aside. */
const fastOnly =
  <A>(decoders: Decoders<A>) =>
  (root: XmlElement): A | undefined =>
    decoderOf(decoders, root.name)?.fast?.(root)

/** A request, through the Schema path only: the reference of `requestFromElement`. */
export const requestFromElementBySchema = fromElementBySchema(requestDecoders, "request")

/** A request (what the server reads): the hot ones through their fast reader, the rest through the Schema path. */
export const requestFromElement = fromElement(requestDecoders, "request")

/** The request the fast readers alone make of `root`, or `undefined` (the Schema path decides). */
export const fastRequest = fastOnly(requestDecoders)

/**
 * An answer or a push (what the client reads), through the Schema path only. `serverMessageFromElement`
 * gives the same results faster; this one is its reference.
 */
export const serverMessageFromElementBySchema = fromElementBySchema(serverMessageDecoders, "answer")

/**
 * An answer or a push (what the client reads): the hot ones through their fast reader, the rest through
 * the Schema path.
 */
export const serverMessageFromElement = fromElement(serverMessageDecoders, "answer")

/** The answer the fast readers alone make of `root`, or `undefined` (the Schema path decides). */
export const fastServerMessage = fastOnly(serverMessageDecoders)

const allDecoders: Decoders<IrpMessage> = { ...requestDecoders, ...serverMessageDecoders }

/** Any IRP message. */
export const irpFromElement = fromElement(allDecoders, "message")

/** Parses and decodes one IRP document; any failure is a `DecodeError`, never a throw. */
export const decodeIrp = (bytes: Uint8Array): Decoded<IrpMessage> =>
  Either.match(parseXml(bytes), {
    onLeft: (cause) => Either.left(new DecodeError({ reason: "Xml", message: cause.message, cause })),
    onRight: irpFromElement
  })

// --- Codecs --------------------------------------------------------------------------------

const decodeId = decodeWith(Id, "id")

/**
 * The server's view of an undecodable request: its id when that much is readable, and why. The id is
 * echoed whatever else is wrong, an unknown namespace or element included (PROTOCOL.md §17.2.4): a
 * client whose request is refused can then match the refusal instead of timing the request out.
 */
export const invalidRequest = (root: XmlElement, error: DecodeError): InvalidRequest => {
  const raw = root.attributes.find((a) => a.name === "id")?.value
  const id = raw === undefined ? undefined : Either.getOrUndefined(decodeId(raw))
  return { _tag: "irp.InvalidRequest", id, element: root.name, message: error.message }
}
