/**
 * Serialises an `XmlElement` to UTF-8 bytes the parser accepts (PROTOCOL.md §4). Pure.
 *
 * Output: no XML declaration, one `xmlns="…"` on the root (every element shares the root's
 * namespace), attributes in the order given, `<x/>` for an element with neither text nor children.
 * Escaping: `& < >` everywhere, `"` in attribute values, and CR (plus TAB and LF in attribute values)
 * as character references, so that end-of-line and attribute-value normalisation give back exactly
 * the string that was written.
 *
 * Characters XML 1.0 cannot carry are kept out by the schemas (`XmlString`): every free-text field of
 * a wire message is built on it. Meeting one here, or any other tree the parser would refuse (too
 * deep, too many attributes, mixed content, a bad name), is a programming error and throws.
 */
import { firstNonXmlChar, isNcName } from "./chars.js"
import { defaultXmlLimits, type XmlElement } from "./model.js"

const utf8 = new TextEncoder()

const TEXT_SPECIAL = /[&<>\r]/g
const ATTR_SPECIAL = /[&<>"\t\n\r]/g
const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;"
}
const escapeOne = (c: string): string => ESCAPES[c]!

const checked = (s: string, what: string): string => {
  const bad = firstNonXmlChar(s)
  if (bad >= 0)
    throw new Error(
      `writeXml: ${what} holds U+${s.charCodeAt(bad).toString(16).padStart(4, "0")}, which XML 1.0 cannot carry; its schema should have refused it`
    )
  return s
}

/**
 * True when `s` can be written as it is: printable ASCII without `& < >` (nor `"` when `quote`). One
 * pass without allocation; most values (ids, names, numbers, base64) are like that, so the checks and
 * replacements below run only for the rest.
 */
const isPlain = (s: string, quote: boolean): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x26 || c === 0x3c || c === 0x3e || (quote && c === 0x22)) return false
  }
  return true
}

export const escapeText = (s: string): string =>
  isPlain(s, false) ? s : checked(s, "text").replace(TEXT_SPECIAL, escapeOne)
export const escapeAttribute = (s: string): string =>
  isPlain(s, true) ? s : checked(s, "an attribute value").replace(ATTR_SPECIAL, escapeOne)

/** Names already found valid: a protocol uses a few dozen, written over and over. */
const validNames = new Set<string>()
const isValidName = (name: string): boolean => {
  if (validNames.has(name)) return true
  if (!isNcName(name)) return false
  if (validNames.size < 1024) validNames.add(name)
  return true
}

const serialise = (el: XmlElement, namespace: string, depth: number): string => {
  if (depth > defaultXmlLimits.maxDepth) throw new Error(`writeXml: nesting deeper than ${defaultXmlLimits.maxDepth}`)
  if (!isValidName(el.name)) throw new Error(`writeXml: "${el.name}" is not a valid element name`)
  if (el.namespace !== namespace)
    throw new Error(`writeXml: <${el.name}> is in "${el.namespace}", not in the root's namespace "${namespace}"`)
  if (el.attributes.length > defaultXmlLimits.maxAttributes - 1)
    throw new Error(`writeXml: <${el.name}> has more than ${defaultXmlLimits.maxAttributes - 1} attributes`)
  if (el.children.length > 0 && el.text !== "")
    throw new Error(`writeXml: <${el.name}> has both text and children (mixed content)`)
  let out = `<${el.name}`
  if (depth === 1 && namespace !== "") out += ` xmlns="${escapeAttribute(namespace)}"`
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes[i]!
    if (!isValidName(a.name) || a.name === "xmlns")
      throw new Error(`writeXml: "${a.name}" is not a valid attribute name on <${el.name}>`)
    for (let j = 0; j < i; j++)
      if (el.attributes[j]!.name === a.name) throw new Error(`writeXml: <${el.name}> repeats attribute ${a.name}`)
    out += ` ${a.name}="${escapeAttribute(a.value)}"`
  }
  if (el.children.length === 0 && el.text === "") return `${out}/>`
  out += ">"
  if (el.text !== "") out += escapeText(el.text)
  for (const child of el.children) out += serialise(child, namespace, depth + 1)
  return `${out}</${el.name}>`
}

/** The document as a string (what `writeXml` encodes); handy for logs and tests. */
export const serialiseXml = (root: XmlElement): string => serialise(root, root.namespace, 1)

/**
 * Scratch space for encoding: `encodeInto` plus a copy of what was written costs half of `encode`, which
 * allocates a fresh external buffer per document (measured on a 2.6 KB IRP answer: 2.0 µs against 4.2 µs).
 */
const scratch = new Uint8Array(defaultXmlLimits.maxDocumentBytes)

/** A serialised document as UTF-8 bytes of its own. */
export const documentBytes = (text: string): Uint8Array => {
  const { read, written } = utf8.encodeInto(text, scratch)
  return read === text.length ? scratch.slice(0, written) : utf8.encode(text)
}

/** The document as UTF-8 bytes, ready to be a record's content. Throws only on programming errors (see above). */
export const writeXml = (root: XmlElement): Uint8Array => documentBytes(serialiseXml(root))
