/**
 * Character classes of XML 1.0 (fifth edition) sections 2.2 and 2.3, as plain code-unit tests:
 * the parser calls them per character, so they are branch-only (no regex, no allocation).
 */
import { Schema } from "effect"

/** True when `c` (a UTF-16 code unit) is XML whitespace: space, tab, LF or CR (production S). */
export const isXmlSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d

/** True when `s` is empty or only XML whitespace. */
export const isBlank = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (!isXmlSpace(s.charCodeAt(i))) return false
  return true
}

/** True when the code point is an XML 1.0 `Char`. */
export const isXmlCodePoint = (cp: number): boolean =>
  cp >= 0x20
    ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === 0x09 || cp === 0x0a || cp === 0x0d

/**
 * Index of the first code unit that is not part of an XML 1.0 `Char` (a C0 control other than tab/LF/CR,
 * U+FFFE, U+FFFF or a lone surrogate), or -1 when the whole string can be carried by XML.
 */
export const firstNonXmlChar = (s: string): number => {
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c < 0xd800) continue
    if (c < 0x20) {
      if (c === 0x09 || c === 0x0a || c === 0x0d) continue
      return i
    }
    if (c >= 0xe000) {
      if (c === 0xfffe || c === 0xffff) return i
      continue
    }
    if (c >= 0xdc00) return i // a low surrogate without a high one
    // high surrogate: needs a low one next
    const d = s.charCodeAt(i + 1)
    if (d >= 0xdc00 && d <= 0xdfff) {
      i++
      continue
    }
    return i
  }
  return -1
}

const isNameStartBmp = (c: number): boolean =>
  (c >= 0xc0 && c <= 0xd6) ||
  (c >= 0xd8 && c <= 0xf6) ||
  (c >= 0xf8 && c <= 0x2ff) ||
  (c >= 0x370 && c <= 0x37d) ||
  (c >= 0x37f && c <= 0x1fff) ||
  c === 0x200c ||
  c === 0x200d ||
  (c >= 0x2070 && c <= 0x218f) ||
  (c >= 0x2c00 && c <= 0x2fef) ||
  (c >= 0x3001 && c <= 0xd7ff) ||
  (c >= 0xf900 && c <= 0xfdcf) ||
  (c >= 0xfdf0 && c <= 0xfffd) ||
  // Surrogates of U+10000..U+EFFFF (high D800..DB7F, low DC00..DFFF); input is valid UTF-16 here.
  (c >= 0xd800 && c <= 0xdb7f) ||
  (c >= 0xdc00 && c <= 0xdfff)

/** NameStartChar minus ':' (an NCName start), by UTF-16 code unit. */
export const isNcNameStart = (c: number): boolean =>
  c < 0x80 ? (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f : isNameStartBmp(c)

/** NameChar (':' included, since the parser splits QNames itself), by UTF-16 code unit. */
export const isNameChar = (c: number): boolean =>
  c < 0x80
    ? (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x5f ||
      c === 0x2d ||
      c === 0x2e ||
      c === 0x3a
    : c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040 || isNameStartBmp(c)

/** True when `s` is an NCName (an XML name without ':'), as element and attribute local names must be. */
export const isNcName = (s: string): boolean => {
  if (s.length === 0 || !isNcNameStart(s.charCodeAt(0))) return false
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x3a || !isNameChar(c)) return false
  }
  return true
}

/**
 * A string XML 1.0 can carry. Every free-text field of a wire message is built on it, so the writer
 * never meets a character it cannot encode (PROTOCOL.md §4): the schema refuses it at the boundary.
 */
export const XmlString = Schema.String.pipe(
  Schema.filter(
    (s) =>
      firstNonXmlChar(s) === -1 ||
      "contains a character XML 1.0 cannot carry (a control character other than tab/LF/CR, U+FFFE, U+FFFF or a lone surrogate)"
  )
)

/**
 * Bytes of `s` in UTF-8: how every free-text limit of the protocol is counted (PROTOCOL.md §4.5), on
 * the decoded value, so that every implementation gets the same number whatever escapes the sender
 * used. `s` is a valid XML string here (no lone surrogate: `XmlString` refuses them first).
 */
const utf8ByteLength = (s: string): number => {
  let n = 0
  const len = s.length
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** Free text of at most `max` bytes of UTF-8 once decoded (PROTOCOL.md §4.5). */
export const xmlTextUpTo = (max: number) =>
  XmlString.pipe(Schema.filter((s) => utf8ByteLength(s) <= max || `at most ${max} bytes of UTF-8 text`))

/**
 * The longest prefix of `s` of at most `max` bytes of UTF-8, never splitting a surrogate pair (for
 * descriptions we cut to fit their limit).
 */
export const truncateUtf8 = (s: string, max: number): string => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3
    if (n + size > max) return s.slice(0, i)
    n += size
    if (pair) i++
  }
  return s
}

/**
 * UTF-8 size of `s` once written as element text by `writeXml` (`&` → `&amp;`, `<`/`>` → `&lt;`/`&gt;`,
 * CR → `&#13;`). Lets a schema bound a field by what it costs on the wire rather than by its length.
 */
export const xmlTextByteLength = (s: string): number => {
  let n = 0
  const len = s.length
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += c === 0x26 || c === 0x0d ? 5 : c === 0x3c || c === 0x3e ? 4 : 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4 // a surrogate pair is one 4-byte sequence
      i++
    } else n += 3
  }
  return n
}
