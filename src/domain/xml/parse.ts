/**
 * The hardened XML parser every protocol message goes through (PROTOCOL.md §4). Pure, no dependency.
 *
 * One forward pass over the decoded text with an explicit element stack: no recursion, no
 * backtracking, no lookahead beyond a fixed few characters, so time and memory are linear in the
 * input and bounded by `XmlLimits`. Anything outside SixChat's subset is refused with a typed
 * `XmlError` rather than skipped: DTDs, entities other than the predefined five, processing
 * instructions, CDATA, prefixed attributes, mixed content. Comments are allowed and dropped.
 *
 * The steps, each in `./parse/`: the bytes to text and the document-level limits (here), the scanner
 * (`scanner.ts`: names, attribute values, comments, declarations), references (`references.ts`), and
 * the element tree with namespaces and the structural limits (`tree.ts`).
 */
import { Either } from "effect"
import { defaultXmlLimits, type XmlElement, XmlError, type XmlLimits } from "./model.js"
import { TreeBuilder } from "./parse/tree.js"

// Fatal: invalid UTF-8 (overlongs, surrogates, truncated sequences) is an error, never U+FFFD.
// `ignoreBOM: false` strips one leading UTF-8 BOM; every other BOM is invalid UTF-8 or a NUL.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters refused
const NON_XML_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/

/**
 * Parses one protocol document (PROTOCOL.md §4). Never throws on any input: every refusal is an
 * `XmlError` whose `reason` says which rule the document broke.
 */
export const parseXml = (bytes: Uint8Array, limits?: Partial<XmlLimits>): Either.Either<XmlElement, XmlError> => {
  const lim = limits === undefined ? defaultXmlLimits : { ...defaultXmlLimits, ...limits }
  if (bytes.length > lim.maxDocumentBytes)
    return Either.left(
      new XmlError({ reason: "TooLarge", message: `The document is larger than ${lim.maxDocumentBytes} bytes.` })
    )
  if (bytes.length >= 2 && ((bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0xff && bytes[1] === 0xfe)))
    return Either.left(
      new XmlError({ reason: "Encoding", message: "UTF-16 documents are not accepted; send UTF-8.", offset: 0 })
    )
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return Either.left(new XmlError({ reason: "Encoding", message: "The document is not valid UTF-8." }))
  }
  // TextDecoder output is well-formed UTF-16, so only C0 controls and U+FFFE/U+FFFF remain to refuse.
  const bad = text.search(NON_XML_CHAR)
  if (bad >= 0)
    return Either.left(
      new XmlError({
        reason: "Encoding",
        message: `Character U+${text.charCodeAt(bad).toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML 1.0.`,
        offset: bad
      })
    )
  // End-of-line handling (XML 1.0 section 2.11): CRLF and lone CR become LF before parsing.
  if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n")
  try {
    return Either.right(new TreeBuilder(text, lim).document())
  } catch (e) {
    if (e instanceof XmlError) return Either.left(e)
    throw e
  }
}
