/**
 * The one error every protocol decoder returns (PROTOCOL.md §4: "a message that fails decoding is a
 * `decode_error`, never a crash"). Shared by the E2E and IRP mappings.
 */
import { Data } from "effect"

export type DecodeErrorReason =
  /** The bytes are not a document the hardened parser accepts; `cause` is the `XmlError`. */
  | "Xml"
  /** A well-formed document whose root (or a child) is not an element the protocol defines. */
  | "UnknownElement"
  /** The root element is not in the protocol's namespace. */
  | "Namespace"
  /** Known element, but its attributes, children or values break the message's schema. */
  | "Schema"

export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly reason: DecodeErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}
