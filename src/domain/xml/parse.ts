/**
 * The hardened XML parser every protocol message goes through (PROTOCOL.md §4). Pure, no dependency.
 *
 * One forward pass over the decoded text with an explicit element stack: no recursion, no
 * backtracking, no lookahead beyond a fixed few characters, so time and memory are linear in the
 * input and bounded by `XmlLimits`. Anything outside SixChat's subset is refused with a typed
 * `XmlError` rather than skipped: DTDs, entities other than the predefined five, processing
 * instructions, CDATA, prefixed attributes, mixed content. Comments are allowed and dropped.
 */
import { Either } from "effect"
import { isNameChar, isNcNameStart, isXmlCodePoint, isXmlSpace } from "./chars.js"
import { defaultXmlLimits, type XmlAttribute, type XmlElement, XmlError, type XmlLimits } from "./model.js"

export const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
export const XMLNS_NAMESPACE = "http://www.w3.org/2000/xmlns/"

const LT = 0x3c
const GT = 0x3e
const SLASH = 0x2f
const BANG = 0x21
const QUESTION = 0x3f
const EQUALS = 0x3d
const QUOT = 0x22
const APOS = 0x27
const SEMI = 0x3b
const HASH = 0x23

// Fatal: invalid UTF-8 (overlongs, surrogates, truncated sequences) is an error, never U+FFFD.
// `ignoreBOM: false` strips one leading UTF-8 BOM; every other BOM is invalid UTF-8 or a NUL.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

const XML_DECL =
  /^<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])([^"']*)\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])([^"']*)\3)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(yes|no)\5)?[ \t\n]*\?>/

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters refused
const NON_XML_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/

const PREDEFINED: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }

const LITERAL_SPACE = /[\t\n]/g
/** Attribute-value normalisation of literal whitespace (CR is already gone, section 2.11). */
const normaliseSpace = (s: string): string => (s.includes("\t") || s.includes("\n") ? s.replace(LITERAL_SPACE, " ") : s)

/** No declared prefixes, no children: shared, as most elements have neither. */
const NONE: ReadonlyArray<string> = Object.freeze([])
const NO_CHILDREN: ReadonlyArray<XmlElement> = Object.freeze([])

const isBlank = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (!isXmlSpace(s.charCodeAt(i))) return false
  return true
}

interface Frame {
  readonly qname: string
  readonly local: string
  readonly namespace: string
  readonly attributes: ReadonlyArray<XmlAttribute>
  readonly children: Array<XmlElement>
  /** Prefixes this element declared (popped from the scope when it closes). */
  readonly declared: ReadonlyArray<string>
  text: string
  nonSpace: boolean
}

class Parser {
  pos = 0
  /** prefix ("" = default namespace) -> stack of bindings, innermost last. */
  private readonly scope = new Map<string, Array<string>>([["xml", [XML_NAMESPACE]]])
  private readonly stack: Array<Frame> = []

  constructor(
    private readonly s: string,
    private readonly limits: XmlLimits
  ) {}

  fail(reason: XmlError["reason"], message: string, offset: number = this.pos): never {
    throw new XmlError({ reason, message, offset })
  }

  document(): XmlElement {
    const s = this.s
    if (s.startsWith("<?xml") && isXmlSpace(s.charCodeAt(5))) this.xmlDeclaration()
    this.misc()
    if (this.pos >= s.length) this.fail("Malformed", "The document has no root element.")
    if (s.charCodeAt(this.pos) !== LT) this.fail("Malformed", "Text is not allowed outside the root element.")
    const root = this.rootElement()
    this.misc()
    if (this.pos < s.length) this.fail("Malformed", "Only comments and whitespace may follow the root element.")
    return root
  }

  /** `<?xml version="1.0" encoding="UTF-8"?>`, only at the very start (XML 1.0 section 2.8). */
  private xmlDeclaration(): void {
    const m = XML_DECL.exec(this.s.slice(0, 256))
    if (m === null) this.fail("Malformed", 'The XML declaration must read <?xml version="1.0" encoding="UTF-8"?>.')
    if (m[2] !== "1.0") this.fail("Malformed", `XML version "${m[2]}" is not supported; only 1.0 is.`)
    if (m[4] !== undefined && m[4].toLowerCase() !== "utf-8")
      this.fail("Encoding", `Encoding "${m[4]}" is not accepted; every SixChat document is UTF-8.`)
    this.pos = m[0].length
  }

  /** Whitespace and comments between top-level constructs. */
  private misc(): void {
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

  private processingInstruction(): never {
    return this.fail(
      "ProcessingInstruction",
      "Processing instructions are not allowed (an XML declaration may only open the document)."
    )
  }

  /** `<!` : a comment (skipped), or a DTD / CDATA construct (refused). */
  private bang(): void {
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

  /** Parses the root element and everything inside it, iteratively. */
  private rootElement(): XmlElement {
    const s = this.s
    const stack = this.stack
    const root = this.openTag()
    if (root !== null) return root
    for (;;) {
      const top = stack[stack.length - 1]!
      const c = s.charCodeAt(this.pos)
      if (Number.isNaN(c)) this.fail("Malformed", `The document ends inside <${top.qname}>.`)
      if (c !== LT) {
        this.text(top)
        continue
      }
      const next = s.charCodeAt(this.pos + 1)
      if (next === SLASH) {
        const done = this.closeTag(top)
        if (stack.length === 0) return done
        stack[stack.length - 1]!.children.push(done)
      } else if (next === BANG) {
        this.bang()
      } else if (next === QUESTION) {
        this.processingInstruction()
      } else {
        if (top.nonSpace)
          this.fail("MixedContent", `<${top.qname}> mixes text with child elements; SixChat uses either, never both.`)
        top.text = ""
        const child = this.openTag()
        if (child !== null) top.children.push(child)
      }
    }
  }

  /** A start tag at `pos` (on '<'). Returns the element when it is empty (`/>`), else pushes a frame. */
  private openTag(): XmlElement | null {
    const s = this.s
    const tagStart = this.pos
    if (this.stack.length >= this.limits.maxDepth)
      this.fail("TooDeep", `Elements are nested deeper than ${this.limits.maxDepth} levels.`)
    this.pos++
    const qname = this.name()
    const raw: Array<XmlAttribute> = []
    let empty = false
    for (;;) {
      const hadSpace = this.skipSpace()
      const c = s.charCodeAt(this.pos)
      if (c === GT) {
        this.pos++
        break
      }
      if (c === SLASH && s.charCodeAt(this.pos + 1) === GT) {
        this.pos += 2
        empty = true
        break
      }
      if (Number.isNaN(c)) this.fail("Malformed", `The document ends inside the start tag <${qname}>.`, tagStart)
      if (!hadSpace) this.fail("Malformed", `Malformed start tag <${qname}>: attributes must be separated by spaces.`)
      const nameAt = this.pos
      const name = this.name()
      this.skipSpace()
      if (s.charCodeAt(this.pos) !== EQUALS) this.fail("Malformed", `Attribute ${name} has no '=' and value.`)
      this.pos++
      this.skipSpace()
      const value = this.attributeValue(name)
      if (raw.length >= this.limits.maxAttributes)
        this.fail("TooManyAttributes", `<${qname}> has more than ${this.limits.maxAttributes} attributes.`, tagStart)
      for (const a of raw)
        if (a.name === name) this.fail("DuplicateAttribute", `<${qname}> repeats attribute ${name}.`, nameAt)
      raw.push({ name, value })
    }
    return this.resolve(qname, raw, empty, tagStart)
  }

  /** Namespace processing of one start tag (Namespaces in XML 1.0, sections 3-6). */
  private resolve(qname: string, raw: Array<XmlAttribute>, empty: boolean, at: number): XmlElement | null {
    // Most start tags declare nothing and have no prefixed attribute: then `raw` is the list as it is.
    let plain = true
    for (const a of raw) if (a.name.startsWith("xmlns") || a.name.includes(":")) plain = false
    let declared: ReadonlyArray<string> = NONE
    let attributes = raw
    if (!plain) {
      const declaring: Array<string> = []
      attributes = []
      for (const a of raw) {
        if (a.name === "xmlns") this.declare("", a.value, declaring, at)
        else if (a.name.startsWith("xmlns:")) this.declare(this.ncName(a.name.slice(6), at), a.value, declaring, at)
        else if (a.name.includes(":"))
          this.fail("Namespace", `Namespace-qualified attribute ${a.name} is not accepted on <${qname}>.`, at)
        else attributes.push(a)
      }
      declared = declaring
    }
    const colon = qname.indexOf(":")
    const prefix = colon < 0 ? "" : qname.slice(0, colon)
    const local = colon < 0 ? qname : this.ncName(qname.slice(colon + 1), at)
    const bindings = this.scope.get(prefix)
    const namespace = bindings?.[bindings.length - 1]
    if (namespace === undefined && prefix !== "")
      this.fail("Namespace", `Prefix "${prefix}" of <${qname}> is not bound to a namespace.`, at)
    if (empty) {
      for (const p of declared) this.scope.get(p)!.pop()
      return { name: local, namespace: namespace ?? "", attributes, children: NO_CHILDREN, text: "" }
    }
    this.stack.push({
      qname,
      local,
      namespace: namespace ?? "",
      attributes,
      children: [],
      declared,
      text: "",
      nonSpace: false
    })
    return null
  }

  private declare(prefix: string, uri: string, declared: Array<string>, at: number): void {
    if (prefix === "xmlns") this.fail("Namespace", "The xmlns prefix must not be declared.", at)
    if (prefix === "xml" ? uri !== XML_NAMESPACE : uri === XML_NAMESPACE || uri === XMLNS_NAMESPACE)
      this.fail("Namespace", `Prefix "${prefix}" cannot be bound to ${uri || "an empty name"}.`, at)
    if (prefix !== "" && uri === "") this.fail("Namespace", `Prefix "${prefix}" cannot be undeclared.`, at)
    if (declared.includes(prefix))
      this.fail("DuplicateAttribute", `Namespace prefix "${prefix}" is declared twice.`, at)
    declared.push(prefix)
    const bindings = this.scope.get(prefix)
    if (bindings === undefined) this.scope.set(prefix, [uri])
    else bindings.push(uri)
  }

  private finish(frame: Frame): XmlElement {
    for (const prefix of frame.declared) this.scope.get(prefix)!.pop()
    return {
      name: frame.local,
      namespace: frame.namespace,
      attributes: frame.attributes,
      children: frame.children,
      text: frame.children.length > 0 ? "" : frame.text
    }
  }

  /** `</qname S? >`, matching the innermost open element. */
  private closeTag(top: Frame): XmlElement {
    const at = this.pos
    this.pos += 2
    const qname = this.name()
    this.skipSpace()
    if (this.s.charCodeAt(this.pos) !== GT) this.fail("Malformed", `Malformed end tag </${qname}>.`)
    this.pos++
    if (qname !== top.qname) this.fail("Malformed", `End tag </${qname}> does not match <${top.qname}>.`, at)
    this.stack.pop()
    return this.finish(top)
  }

  /**
   * Character data up to the next '<', with references expanded. Works on the run as one slice so that
   * every search is bounded by the run (searching the whole document per run would be quadratic).
   */
  private text(top: Frame): void {
    const s = this.s
    const start = this.pos
    let end = s.indexOf("<", start)
    if (end < 0) end = s.length
    const raw = s.slice(start, end)
    const cdataEnd = raw.indexOf("]]>")
    if (cdataEnd >= 0)
      this.fail("Malformed", "The sequence ']]>' is not allowed in text; escape '>' as &gt;.", start + cdataEnd)
    const value = raw.includes("&") ? this.expand(raw, start, false) : raw
    if (!top.nonSpace && !isBlank(value)) top.nonSpace = true
    this.pos = end
    if (top.children.length > 0) {
      if (top.nonSpace)
        this.fail("MixedContent", `<${top.qname}> mixes text with child elements; SixChat uses either, never both.`)
      return
    }
    top.text += value
    if (top.text.length > this.limits.maxValueLength)
      this.fail("ValueTooLong", `The text of <${top.qname}> is longer than ${this.limits.maxValueLength} characters.`)
  }

  /** A quoted attribute value, normalised as XML 1.0 section 3.3.3 requires for CDATA attributes. */
  private attributeValue(name: string): string {
    const s = this.s
    const quote = s.charCodeAt(this.pos)
    if (quote !== QUOT && quote !== APOS) this.fail("Malformed", `The value of attribute ${name} must be quoted.`)
    const start = this.pos + 1
    const end = s.indexOf(quote === QUOT ? '"' : "'", start)
    if (end < 0) this.fail("Malformed", `The value of attribute ${name} is not terminated.`, start)
    const raw = s.slice(start, end)
    const lt = raw.indexOf("<")
    if (lt >= 0) this.fail("Malformed", `'<' must be escaped as &lt; in attribute ${name}.`, start + lt)
    const value = raw.includes("&") ? this.expand(raw, start, true) : normaliseSpace(raw)
    if (value.length > this.limits.maxValueLength)
      this.fail("ValueTooLong", `Attribute ${name} is longer than ${this.limits.maxValueLength} characters.`, start)
    this.pos = end + 1
    return value
  }

  /** `raw` (found at `start`) with its references expanded; literal tab/LF become spaces in attributes. */
  private expand(raw: string, start: number, attribute: boolean): string {
    let out = ""
    let from = 0
    for (let amp = raw.indexOf("&"); amp >= 0; amp = raw.indexOf("&", from)) {
      const literal = raw.slice(from, amp)
      out += attribute ? normaliseSpace(literal) : literal
      this.pos = start + amp
      out += this.reference()
      from = this.pos - start
    }
    const tail = raw.slice(from)
    return out + (attribute ? normaliseSpace(tail) : tail)
  }

  /** `&name;`, `&#123;` or `&#x7B;` at `pos`; returns the replacement text. */
  private reference(): string {
    const s = this.s
    const at = this.pos
    if (s.charCodeAt(at + 1) === HASH) {
      const hex = s.charCodeAt(at + 2) === 0x78
      let i = at + (hex ? 3 : 2)
      const digitsStart = i
      let cp = 0
      for (;;) {
        const c = s.charCodeAt(i)
        const d =
          c >= 0x30 && c <= 0x39
            ? c - 0x30
            : hex && c >= 0x61 && c <= 0x66
              ? c - 0x57
              : hex && c >= 0x41 && c <= 0x46
                ? c - 0x37
                : -1
        if (d < 0) break
        cp = cp * (hex ? 16 : 10) + d
        if (cp > 0x10ffff) this.fail("Entity", "A character reference is beyond U+10FFFF.", at)
        i++
      }
      if (i === digitsStart || s.charCodeAt(i) !== SEMI) this.fail("Malformed", "Malformed character reference.", at)
      if (!isXmlCodePoint(cp))
        this.fail("Entity", `Character reference &#x${cp.toString(16)}; names a character XML 1.0 forbids.`, at)
      this.pos = i + 1
      return String.fromCodePoint(cp)
    }
    let i = at + 1
    while (i - at <= 32 && isNameChar(s.charCodeAt(i))) i++
    if (i === at + 1 || s.charCodeAt(i) !== SEMI) this.fail("Malformed", "A bare '&' must be escaped as &amp;.", at)
    const name = s.slice(at + 1, i)
    const ch = PREDEFINED[name]
    if (ch === undefined || !Object.hasOwn(PREDEFINED, name))
      this.fail(
        "Entity",
        `Entity &${name}; is not allowed; only &lt; &gt; &amp; &quot; &apos; and character references are.`,
        at
      )
    this.pos = i + 1
    return ch
  }

  /** An XML Name (QName syntax checked by the caller) at `pos`. */
  private name(): string {
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
  private ncName(local: string, at: number): string {
    if (!isNcNameStart(local.charCodeAt(0))) this.fail("Namespace", `"${local}" is not a valid local name.`, at)
    return local
  }

  /** Skips XML whitespace; true when there was any. */
  private skipSpace(): boolean {
    const start = this.pos
    while (isXmlSpace(this.s.charCodeAt(this.pos))) this.pos++
    return this.pos > start
  }
}

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
    return Either.right(new Parser(text, lim).document())
  } catch (e) {
    if (e instanceof XmlError) return Either.left(e)
    throw e
  }
}
