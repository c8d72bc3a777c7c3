/**
 * XML mapping of every IRP wire message (PROTOCOL.md §§4 and 17); the normative shapes are in
 * `schema/irp.xsd`, which this module and its tests keep in step. Pure.
 *
 * Decoding is strict like the E2E mapping: root in `urn:sixchat:irp:1`, no unknown element, attribute or
 * child, canonical base64, plain decimals, RFC 3339 UTC times that name a real instant, and every value
 * through its Schema before it is returned. The two codecs differ on failure: the client's fails (the
 * channel then ends the connection: a server that sends garbage cannot be trusted), the server's turns
 * a well-formed but invalid request into `InvalidRequest`, answered `bad_request` on a connection that
 * stays usable (PROTOCOL.md §17).
 *
 * Writing lives in `./xmlWrite.ts` and reading in `./xmlRead.ts` (one decoder per message in `./decode/`);
 * this module holds the two codecs and re-exports both halves.
 */
import { Either } from "effect"
import type { MessageCodec } from "../channel/codec.js"
import { MAX_CONTENT } from "../channel/record.js"
import type { IrpRequest, IrpServerInbound, IrpServerMessage } from "./messages.js"
import { invalidRequest, requestFromElement, serverMessageFromElement } from "./xmlRead.js"
import { encodeIrp } from "./xmlWrite.js"

export {
  decodeIrp,
  invalidRequest,
  irpFromElement,
  parseTimestamp,
  requestFromElement,
  requestFromElementBySchema,
  serverMessageFromElement,
  serverMessageFromElementBySchema
} from "./xmlRead.js"
export { encodeIrp, formatTimestamp, type IrpMessage, irpToElement } from "./xmlWrite.js"

// --- Codecs --------------------------------------------------------------------------------

/**
 * Encodes a server message, guaranteeing it fits one record (PROTOCOL.md §3): an answer that would
 * not (a pathological number of bindings or certificates) becomes an `internal` error for its id.
 */
const encodeServerMessage = (msg: IrpServerMessage): Uint8Array => {
  const bytes = encodeIrp(msg)
  if (bytes.length <= MAX_CONTENT) return bytes
  return encodeIrp({
    _tag: "irp.Error",
    ...("id" in msg && msg.id !== undefined ? { id: msg.id } : {}),
    code: "internal",
    message: "The answer is too large for one record; the server's limits are misconfigured."
  })
}

/** The client side of port 4604: sends requests, reads answers and pushes. */
export const irpClientCodec: MessageCodec<IrpServerMessage, IrpRequest> = {
  encode: encodeIrp,
  decode: serverMessageFromElement
}

/** The server side of port 4604: reads requests (invalid ones included, to answer them), sends answers. */
export const irpServerCodec: MessageCodec<IrpServerInbound, IrpServerMessage> = {
  encode: encodeServerMessage,
  decode: (root) =>
    Either.orElse(requestFromElement(root), (error) => Either.right<IrpServerInbound>(invalidRequest(root, error)))
}
