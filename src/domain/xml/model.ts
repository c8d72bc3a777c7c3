/**
 * The XML data model SixChat's wire protocols use (PROTOCOL.md §4), its limits and its error.
 * Pure. A deliberately small subset of XML 1.0 + Namespaces: elements, unprefixed attributes and
 * text, never mixed; no DTD, no entities beyond the predefined five, no PIs, no CDATA.
 */
import { Data } from "effect"

export interface XmlAttribute {
  /** Local name; SixChat's attributes are never namespace-qualified. */
  readonly name: string
  readonly value: string
}

export interface XmlElement {
  /** Local name (the prefix, if any, is resolved into `namespace`). */
  readonly name: string
  /** Resolved namespace URI; `""` when the element is in no namespace. */
  readonly namespace: string
  /** Unprefixed attributes in document order (namespace declarations are not listed). */
  readonly attributes: ReadonlyArray<XmlAttribute>
  readonly children: ReadonlyArray<XmlElement>
  /** Character data of a leaf element; always `""` for an element that has children. */
  readonly text: string
}

/** Bounds the parser enforces before any schema sees the document (PROTOCOL.md §4). */
export interface XmlLimits {
  /** Largest accepted input in bytes (a post-handshake record carries at most 64 KiB + 256). */
  readonly maxDocumentBytes: number
  /** Longest text node, attribute value or comment, in UTF-16 code units after decoding. */
  readonly maxValueLength: number
  /** Deepest nesting; the root is depth 1 (PROTOCOL.md §4: "nesting deeper than 16"). */
  readonly maxDepth: number
  /** Most attributes on one element, namespace declarations included (PROTOCOL.md §4: 64). */
  readonly maxAttributes: number
}

export const defaultXmlLimits: XmlLimits = {
  maxDocumentBytes: 70_000,
  maxValueLength: 65_536,
  maxDepth: 16,
  maxAttributes: 64
}

export type XmlErrorReason =
  | "Malformed"
  | "Encoding"
  | "Doctype"
  | "Entity"
  | "ProcessingInstruction"
  | "TooDeep"
  | "TooManyAttributes"
  | "TooLarge"
  | "ValueTooLong"
  | "DuplicateAttribute"
  | "Namespace"
  | "MixedContent"

/** A document the hardened parser refuses; `offset` counts UTF-16 code units into the decoded, LF-normalised text. */
export class XmlError extends Data.TaggedError("XmlError")<{
  readonly reason: XmlErrorReason
  readonly message: string
  readonly offset?: number | undefined
}> {}

/** An element builder bound to one protocol's namespace: `(name, attributes?, children?, text?)`. */
export const elementsIn =
  (namespace: string) =>
  (
    name: string,
    attributes: ReadonlyArray<XmlAttribute> = [],
    children: ReadonlyArray<XmlElement> = [],
    text = ""
  ): XmlElement => ({ name, namespace, attributes, children, text })

/** Attributes in the given order, leaving out the absent optional ones. */
export const presentAttributes = (
  ...pairs: ReadonlyArray<readonly [string, string | undefined]>
): ReadonlyArray<XmlAttribute> => {
  const out: Array<XmlAttribute> = []
  for (const [name, value] of pairs) if (value !== undefined) out.push({ name, value })
  return out
}
