/**
 * Element tree building of the XML parser (`../parse.ts`): one forward pass with an explicit element
 * stack (no recursion), start and end tags, namespace processing (Namespaces in XML 1.0), character data,
 * and the depth, attribute-count and value-length limits of `XmlLimits`. Pure.
 */
import { isBlank, isXmlSpace } from "../chars.js"
import type { XmlAttribute, XmlElement } from "../model.js"
import { expand } from "./references.js"
import { BANG, EQUALS, GT, LT, QUESTION, Scanner, SLASH } from "./scanner.js"

const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
const XMLNS_NAMESPACE = "http://www.w3.org/2000/xmlns/"

/** No declared prefixes, no children: shared, as most elements have neither. */
const NONE: ReadonlyArray<string> = Object.freeze([])
const NO_CHILDREN: ReadonlyArray<XmlElement> = Object.freeze([])

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

export class TreeBuilder extends Scanner {
  /** prefix ("" = default namespace) -> stack of bindings, innermost last. */
  private readonly scope = new Map<string, Array<string>>([["xml", [XML_NAMESPACE]]])
  private readonly stack: Array<Frame> = []

  /** The whole document: prolog, root element, trailing comments and whitespace. */
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
    const value = raw.includes("&") ? expand(this, raw, start, false) : raw
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
}
