/**
 * The scanner of the XML parser (`../parse.ts`): a cursor over the decoded text, names, whitespace,
 * quoted attribute values, and the markup that builds no element (the XML declaration, comments,
 * refused DTDs and processing instructions). Every refusal is thrown as an `XmlError` and caught once,
 * in `parseXml`. Pure.
 */
import { isNameChar, isNcNameStart, isXmlSpace } from "../chars.js"
import { XmlError, type XmlLimits } from "../model.js"
import { expand, normaliseSpace } from "./references.js"

export const LT = 0x3c
export const GT = 0x3e
export const SLASH = 0x2f
export const BANG = 0x21
export const QUESTION = 0x3f
export const EQUALS = 0x3d
const QUOT = 0x22
const APOS = 0x27

const XML_DECL =
  /^<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])([^"']*)\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])([^"']*)\3)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(yes|no)\5)?[ \t\n]*\?>/

export class Scanner {
  pos = 0

  constructor(
    readonly s: string,
    readonly limits: XmlLimits
  ) {}

  fail(reason: XmlError["reason"], message: string, offset: number = this.pos): never {
    throw new XmlError({ reason, message, offset })
  }

  /** `<?xml version="1.0" encoding="UTF-8"?>`, only at the very start (XML 1.0 section 2.8). */
  xmlDeclaration(): void {
    const m = XML_DECL.exec(this.s.slice(0, 256))
    if (m === null) this.fail("Malformed", 'The XML declaration must read <?xml version="1.0" encoding="UTF-8"?>.')
    if (m[2] !== "1.0") this.fail("Malformed", `XML version "${m[2]}" is not supported; only 1.0 is.`)
    if (m[4] !== undefined && m[4].toLowerCase() !== "utf-8")
      this.fail("Encoding", `Encoding "${m[4]}" is not accepted; every SixChat document is UTF-8.`)
    this.pos = m[0].length
  }

  /** Whitespace and comments between top-level constructs. */
  misc(): void {
    const s = this.s
    for (;;) {
      while (isXmlSpace(s.charCodeAt(this.pos))) this.pos++
      if (s.charCodeAt(this.pos) !== LT) return
      const next = s.charCodeAt(this.pos + 1)
      if (next === BANG) this.bang()
      else if (next === QUESTION) this.processingInstruction()
      else return
    }
  }

  processingInstruction(): never {
    return this.fail(
      "ProcessingInstruction",
      "Processing instructions are not allowed (an XML declaration may only open the document)."
    )
  }

  /** `<!` : a comment (skipped), or a DTD / CDATA construct (refused). */
  bang(): void {
    const s = this.s
    const at = this.pos
    if (s.startsWith("<!--", at)) {
      this.comment()
      return
    }
    if (s.startsWith("<![CDATA[", at))
      this.fail("Malformed", "CDATA sections are not accepted; escape the text instead.")
    if (/^<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/.test(s.slice(at, at + 10)))
      this.fail("Doctype", "Document type declarations (DTDs, entity declarations) are refused.")
    this.fail("Malformed", "Unknown markup declaration after '<!'.")
  }

  private comment(): void {
    const s = this.s
    const start = this.pos + 4
    const end = s.indexOf("--", start)
    if (end < 0) this.fail("Malformed", "A comment is not terminated by '-->'.")
    if (s.charCodeAt(end + 2) !== GT) this.fail("Malformed", "'--' is not allowed inside a comment.", end)
    if (end - start > this.limits.maxValueLength)
      this.fail("ValueTooLong", `A comment is longer than ${this.limits.maxValueLength} characters.`, start)
    this.pos = end + 3
  }

  /** A quoted attribute value, normalised as XML 1.0 section 3.3.3 requires for CDATA attributes. */
  attributeValue(name: string): string {
    const s = this.s
    const quote = s.charCodeAt(this.pos)
    if (quote !== QUOT && quote !== APOS) this.fail("Malformed", `The value of attribute ${name} must be quoted.`)
    const start = this.pos + 1
    const end = s.indexOf(quote === QUOT ? '"' : "'", start)
    if (end < 0) this.fail("Malformed", `The value of attribute ${name} is not terminated.`, start)
    const raw = s.slice(start, end)
    const lt = raw.indexOf("<")
    if (lt >= 0) this.fail("Malformed", `'<' must be escaped as &lt; in attribute ${name}.`, start + lt)
    const value = raw.includes("&") ? expand(this, raw, start, true) : normaliseSpace(raw)
    if (value.length > this.limits.maxValueLength)
      this.fail("ValueTooLong", `Attribute ${name} is longer than ${this.limits.maxValueLength} characters.`, start)
    this.pos = end + 1
    return value
  }

  /** An XML Name (QName syntax checked by the caller) at `pos`. */
  name(): string {
    const s = this.s
    const start = this.pos
    const c = s.charCodeAt(start)
    if (!isNcNameStart(c)) this.fail("Malformed", "Expected an element or attribute name.")
    let i = start + 1
    while (isNameChar(s.charCodeAt(i))) i++
    this.pos = i
    const name = s.slice(start, i)
    const colon = name.indexOf(":")
    if (colon >= 0 && (colon === name.length - 1 || name.indexOf(":", colon + 1) >= 0))
      this.fail("Namespace", `"${name}" is not a valid qualified name.`, start)
    return name
  }

  /** Checks the local part of a QName is an NCName (it may not start with a digit, '-' or '.'). */
  ncName(local: string, at: number): string {
    if (!isNcNameStart(local.charCodeAt(0))) this.fail("Namespace", `"${local}" is not a valid local name.`, at)
    return local
  }

  /** Skips XML whitespace; true when there was any. */
  skipSpace(): boolean {
    const start = this.pos
    while (isXmlSpace(this.s.charCodeAt(this.pos))) this.pos++
    return this.pos > start
  }
}
