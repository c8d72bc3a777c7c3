/**
 * How a protocol's application documents travel over a secure channel: E2E messages between User
 * Agents, IRP requests and answers on port 4604. Handshake and control records (`<KeyUpdate/>`,
 * `<Close/>`, `<Alert/>`) always use the E2E namespace and are handled by the channel itself.
 */
import type { Either } from "effect"
import type { DecodeError } from "../xml/DecodeError.js"
import type { XmlElement } from "../xml/model.js"

export interface MessageCodec<In, Out> {
  /** Encodes one outbound document (UTF-8 XML). */
  readonly encode: (message: Out) => Uint8Array
  /** Decodes one inbound document; everything must pass its Schema before anything acts on it. */
  readonly decode: (element: XmlElement) => Either.Either<In, DecodeError>
  /**
   * The answer the channel itself sends to an inbound message, before handing it on: a `<Pong/>` for
   * each `<Ping/>` (PROTOCOL.md §11.10.2; keep-alive is the channel's job, like a TLS or HTTP/2 PING,
   * so every user of the channel answers). `undefined`: no answer.
   */
  readonly answer?: ((message: In) => Out | undefined) | undefined
}
