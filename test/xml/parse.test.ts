import { Either } from "effect"
import { describe, expect, it } from "vitest"
import type { XmlElement, XmlError } from "../../src/domain/xml/model.js"
import { parseXml } from "../../src/domain/xml/parse.js"
import { serialiseXml, writeXml } from "../../src/domain/xml/write.js"

const utf8 = (s: string) => new TextEncoder().encode(s)
const parse = (s: string | Uint8Array, limits?: Parameters<typeof parseXml>[1]) =>
  parseXml(typeof s === "string" ? utf8(s) : s, limits)
const ok = (s: string | Uint8Array): XmlElement => {
  const r = parse(s)
  if (Either.isLeft(r)) throw new Error(`expected a document, got ${r.left.reason}: ${r.left.message}`)
  return r.right
}
const fail = (s: string | Uint8Array, limits?: Parameters<typeof parseXml>[1]): XmlError => {
  const r = parse(s, limits)
  if (Either.isRight(r)) throw new Error(`expected an XmlError for ${String(s).slice(0, 120)}`)
  return r.left
}
const nested = (depth: number) => "<a>".repeat(depth) + "</a>".repeat(depth)
const withAttributes = (n: number) => `<a ${Array.from({ length: n }, (_, i) => `a${i}="${i}"`).join(" ")}/>`

describe("parseXml: the accepted subset", () => {
  it("resolves default and prefixed namespaces, and lists unprefixed attributes in order", () => {
    const root = ok(
      `<p:r xmlns:p="urn:p" xmlns="urn:d" b="2" a='1'><c x="&lt;&#x41;&#66;&quot;&apos;&gt;&amp;"/><p:d xmlns="">t</p:d><e xmlns=""/></p:r>`
    )
    expect(root).toEqual({
      name: "r",
      namespace: "urn:p",
      attributes: [
        { name: "b", value: "2" },
        { name: "a", value: "1" }
      ],
      children: [
        { name: "c", namespace: "urn:d", attributes: [{ name: "x", value: `<AB"'>&` }], children: [], text: "" },
        { name: "d", namespace: "urn:p", attributes: [], children: [], text: "t" },
        { name: "e", namespace: "", attributes: [], children: [], text: "" }
      ],
      text: ""
    })
  })

  it("keeps leaf text exactly, drops whitespace between children, and normalises line ends and attributes", () => {
    expect(ok("<a>  x\r\ny\rz&#13;&#10;&#9;  </a>").text).toBe("  x\ny\nz\r\n\t  ")
    expect(ok('<a v="1\t2\n3\r\n4&#9;5&#10;6&#13;"/>').attributes[0]!.value).toBe("1 2 3 4\t5\n6\r")
    expect(ok("<a>\n  <b> </b>\n  <!-- c -->\n</a>").children[0]!.text).toBe(" ")
    expect(ok("<a>x<!-- c -->y</a>").text).toBe("xy")
    expect(ok("<a>😀&#x1F600;&#128512;</a>").text).toBe("😀😀😀")
  })

  it("accepts the XML declaration at the very start, a UTF-8 BOM, comments and whitespace around the root", () => {
    expect(ok('<?xml version="1.0" encoding="UTF-8"?><a/>').name).toBe("a")
    expect(ok("<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<a/>\n").name).toBe("a")
    expect(ok('<?xml version="1.0"?><a/>').name).toBe("a")
    expect(ok(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("<a/>")])).name).toBe("a")
    expect(ok(" \n<!-- a -- b? no: --><a/>".replace("-- b? no: ", "b")).name).toBe("a")
    expect(ok("<a/><!-- trailing -->\n").name).toBe("a")
  })

  it("writes what it parses back to the same tree", () => {
    const tree = ok(`<r xmlns="urn:x" q="&quot;&#9;&#10;&#13;&lt;&amp;>"><c>a&lt;b&gt;c&amp;&#13;</c><c/></r>`)
    expect(serialiseXml(tree)).toBe(
      `<r xmlns="urn:x" q="&quot;&#9;&#10;&#13;&lt;&amp;&gt;"><c>a&lt;b&gt;c&amp;&#13;</c><c/></r>`
    )
    expect(parse(writeXml(tree))).toEqual(Either.right(tree))
  })
})

describe("parseXml: refusals (PROTOCOL.md §4)", () => {
  const cases: ReadonlyArray<readonly [string, string | Uint8Array, XmlError["reason"]]> = [
    ["DOCTYPE", "<!DOCTYPE a><a/>", "Doctype"],
    ["DOCTYPE with internal subset", '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "Doctype"],
    [
      "billion laughs",
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>',
      "Doctype"
    ],
    ["external entity (XXE)", '<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><a>&xxe;</a>', "Doctype"],
    ["external DTD", '<!DOCTYPE a SYSTEM "http://example.org/a.dtd"><a/>', "Doctype"],
    ["DOCTYPE inside the root", "<a><!DOCTYPE a></a>", "Doctype"],
    ["ENTITY declaration inside the root", '<a><!ENTITY e "x"></a>', "Doctype"],
    ["undefined entity", "<a>&foo;</a>", "Entity"],
    ["undefined entity in an attribute", '<a v="&nbsp;"/>', "Entity"],
    ["inherited name used as entity", "<a>&constructor;</a>", "Entity"],
    ["parameter-entity syntax", "<a>%pe;&pe;</a>", "Entity"],
    ["char ref to NUL", "<a>&#0;</a>", "Entity"],
    ["char ref to a control", "<a>&#x1;</a>", "Entity"],
    ["char ref to a surrogate", "<a>&#xD800;</a>", "Entity"],
    ["char ref to U+FFFE", "<a>&#xFFFE;</a>", "Entity"],
    ["char ref beyond Unicode", "<a>&#x110000;</a>", "Entity"],
    ["huge char ref", `<a>&#${"9".repeat(500)};</a>`, "Entity"],
    ["processing instruction", "<?php echo 1 ?><a/>", "ProcessingInstruction"],
    ["stylesheet PI", '<?xml-stylesheet href="x"?><a/>', "ProcessingInstruction"],
    ["PI inside the root", "<a><?pi x?></a>", "ProcessingInstruction"],
    ["XML declaration not at the start", ' <?xml version="1.0"?><a/>', "ProcessingInstruction"],
    ["second XML declaration", '<?xml version="1.0"?><?xml version="1.0"?><a/>', "ProcessingInstruction"],
    ["PI after the root", "<a/><?pi?>", "ProcessingInstruction"],
    ["XML 1.1", '<?xml version="1.1"?><a/>', "Malformed"],
    ["another declared encoding", '<?xml version="1.0" encoding="ISO-8859-1"?><a/>', "Encoding"],
    ["depth 17", nested(17), "TooDeep"],
    ["depth 17 with an empty innermost element", "<a>".repeat(16) + "<b/>" + "</a>".repeat(16), "TooDeep"],
    ["65 attributes", withAttributes(65), "TooManyAttributes"],
    [
      "64 attributes plus a namespace declaration",
      withAttributes(64).replace("<a ", '<a xmlns="urn:x" '),
      "TooManyAttributes"
    ],
    ["duplicate attribute", '<a x="1" x="2"/>', "DuplicateAttribute"],
    ["duplicate namespace declaration", '<a xmlns:p="u" xmlns:p="v"/>', "DuplicateAttribute"],
    ["mixed content, text first", "<a>x<b/></a>", "MixedContent"],
    ["mixed content, text after", "<a><b/>x</a>", "MixedContent"],
    ["mixed content by reference", "<a><b/>&amp;</a>", "MixedContent"],
    ["unbound element prefix", "<p:a/>", "Namespace"],
    ["unbound after scope ends", '<a><b xmlns:p="u"/><p:c/></a>', "Namespace"],
    ["prefixed attribute", '<a xmlns:p="u" p:x="1"/>', "Namespace"],
    ["xml: attribute", '<a xml:lang="en"/>', "Namespace"],
    ["undeclared prefix binding", '<a xmlns:p=""/>', "Namespace"],
    ["xmlns prefix declared", '<a xmlns:xmlns="u"/>', "Namespace"],
    ["xml prefix rebound", '<a xmlns:xml="urn:x"/>', "Namespace"],
    ["two colons", '<a:b:c xmlns:a="u"/>', "Namespace"],
    ["local name starting with a digit", '<p:1a xmlns:p="u"/>', "Namespace"],
    ["CDATA", "<a><![CDATA[x]]></a>", "Malformed"],
    ["]]> in text", "<a>]]></a>", "Malformed"],
    ["bare ampersand", "<a>fish & chips</a>", "Malformed"],
    ["unterminated reference", "<a>&amp</a>", "Malformed"],
    ["'<' in an attribute", '<a v="<"/>', "Malformed"],
    ["unquoted attribute", "<a v=1/>", "Malformed"],
    ["attributes without space", '<a x="1"y="2"/>', "Malformed"],
    ["mismatched end tag", "<a></b>", "Malformed"],
    ["unclosed root", "<a><b></b>", "Malformed"],
    ["truncated start tag", '<a x="1', "Malformed"],
    ["trailing garbage", "<a/>x", "Malformed"],
    ["second root", "<a/><b/>", "Malformed"],
    ["text before the root", "x<a/>", "Malformed"],
    ["empty document", "", "Malformed"],
    ["whitespace only", " \n ", "Malformed"],
    ["'--' in a comment", "<!-- a -- b --><a/>", "Malformed"],
    ["unterminated comment", "<a><!-- x</a>", "Malformed"],
    ["invalid UTF-8", new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]), "Encoding"],
    ["overlong UTF-8", new Uint8Array([0x3c, 0x61, 0x3e, 0xc0, 0xbc, 0x3c, 0x2f, 0x61, 0x3e]), "Encoding"],
    [
      "UTF-8-encoded surrogate",
      new Uint8Array([0x3c, 0x61, 0x3e, 0xed, 0xa0, 0x80, 0x3c, 0x2f, 0x61, 0x3e]),
      "Encoding"
    ],
    ["truncated UTF-8", new Uint8Array([0x3c, 0x61, 0x2f, 0x3e, 0xe2, 0x82]), "Encoding"],
    ["UTF-16 LE BOM", new Uint8Array([0xff, 0xfe, 0x3c, 0x00, 0x61, 0x00, 0x2f, 0x00, 0x3e, 0x00]), "Encoding"],
    ["UTF-16 BE BOM", new Uint8Array([0xfe, 0xff, 0x00, 0x3c, 0x00, 0x61, 0x00, 0x2f, 0x00, 0x3e]), "Encoding"],
    ["UTF-32 BE BOM", new Uint8Array([0x00, 0x00, 0xfe, 0xff, 0, 0, 0, 0x3c]), "Encoding"],
    ["NUL character", "<a>\u0000</a>", "Encoding"],
    ["control character in an attribute", '<a v="\u001b"/>', "Encoding"],
    ["U+FFFF", "<a>\uffff</a>", "Encoding"]
  ]
  for (const [label, doc, reason] of cases)
    it(`${label}: ${reason}`, () => {
      const e = fail(doc)
      expect(e._tag).toBe("XmlError")
      expect(e.reason).toBe(reason)
      expect(e.message.length).toBeGreaterThan(10)
    })

  it("accepts nesting of exactly 16 and exactly 64 attributes", () => {
    let el = ok(nested(16))
    let depth = 1
    while (el.children.length > 0) {
      el = el.children[0]!
      depth++
    }
    expect(depth).toBe(16)
    expect(ok(withAttributes(64)).attributes).toHaveLength(64)
  })

  it("refuses documents over maxDocumentBytes before decoding them", () => {
    const doc = (n: number) => `<a><b>${"x".repeat(60_000)}</b><c>${"x".repeat(n - 60_021)}</c></a>`
    expect(utf8(doc(70_000)).length).toBe(70_000)
    expect(ok(doc(70_000)).children).toHaveLength(2)
    expect(fail(doc(70_001)).reason).toBe("TooLarge")
    expect(fail("<a/>", { maxDocumentBytes: 3 }).reason).toBe("TooLarge")
    // Size is checked first: an oversized document of invalid UTF-8 is TooLarge, not Encoding.
    expect(fail(new Uint8Array(70_001).fill(0xff)).reason).toBe("TooLarge")
  })

  it("refuses a text, attribute value or comment over maxValueLength", () => {
    const limits = { maxValueLength: 100 }
    expect(parse(`<a>${"x".repeat(100)}</a>`, limits)).toMatchObject({ _tag: "Right" })
    expect(fail(`<a>${"x".repeat(101)}</a>`, limits).reason).toBe("ValueTooLong")
    expect(fail(`<a>${"x".repeat(60)}<!---->${"x".repeat(41)}</a>`, limits).reason).toBe("ValueTooLong")
    expect(parse(`<a v="${"&amp;".repeat(100)}"/>`, limits)).toMatchObject({ _tag: "Right" })
    expect(fail(`<a v="${"x".repeat(101)}"/>`, limits).reason).toBe("ValueTooLong")
    expect(fail(`<!--${"x".repeat(101)}--><a/>`, limits).reason).toBe("ValueTooLong")
    expect(fail(`<a>${"x".repeat(65_537)}</a>`).reason).toBe("ValueTooLong")
  })

  it("reports where the problem is", () => {
    expect(fail("<a><b x='1' x='2'/></a>").offset).toBe(12)
    expect(fail("<a>\u0001</a>").offset).toBe(3)
  })

  it("handles pathological inputs at the size limit (linear time: these would hang a quadratic parser)", () => {
    const n = 69_000
    const manyTexts = `<a>${"<b>x</b>".repeat(Math.floor(n / 8) - 1)}</a>`
    expect(ok(manyTexts).children.length).toBeGreaterThan(8000)
    expect(ok(`<a>${"<b>&amp;</b>".repeat(5000)}</a>`).children).toHaveLength(5000)
    expect(fail("<a>" + "<!---->".repeat(9000) + "<b/>x".repeat(1000) + "</a>").reason).toBe("MixedContent")
    expect(fail("<a ".repeat(n / 3)).reason).toBe("Malformed")
    expect(fail(`<a v="${"&amp;".repeat(n / 5)}`).reason).toBe("Malformed")
    expect(fail("&".repeat(n)).reason).toBe("Malformed")
    expect(fail(`<a>${"&#".repeat(n / 2)}`).reason).toBe("Malformed")
    expect(fail("<a>".repeat(n / 3)).reason).toBe("TooDeep")
    expect(fail(`<a>${"<!--".repeat(n / 4)}`).reason).toBe("Malformed")
    expect(fail(`<a>${"]]".repeat(n / 2)}>`).reason).toBe("Malformed")
  })
})

describe("writeXml: refuses trees the parser would refuse (programming errors)", () => {
  const base = { name: "a", namespace: "urn:x", attributes: [], children: [], text: "" }
  it("throws on bad characters, names, namespaces, mixed content, depth and attribute count", () => {
    expect(() => writeXml({ ...base, text: "\u0000" })).toThrow(/cannot carry/)
    expect(() => writeXml({ ...base, attributes: [{ name: "v", value: "\ud800" }] })).toThrow(/cannot carry/)
    expect(() => writeXml({ ...base, name: "1a" })).toThrow(/element name/)
    expect(() => writeXml({ ...base, attributes: [{ name: "p:v", value: "" }] })).toThrow(/attribute name/)
    expect(() => writeXml({ ...base, attributes: [{ name: "xmlns", value: "" }] })).toThrow(/attribute name/)
    expect(() =>
      writeXml({
        ...base,
        attributes: [
          { name: "v", value: "" },
          { name: "v", value: "" }
        ]
      })
    ).toThrow(/repeats/)
    expect(() => writeXml({ ...base, children: [{ ...base, namespace: "urn:y" }] })).toThrow(/namespace/)
    expect(() => writeXml({ ...base, text: "x", children: [base] })).toThrow(/mixed/)
    let deep: XmlElement = base
    for (let i = 0; i < 16; i++) deep = { ...base, children: [deep] }
    expect(() => writeXml(deep)).toThrow(/deeper/)
    const many = Array.from({ length: 64 }, (_, i) => ({ name: `a${i}`, value: "" }))
    expect(() => writeXml({ ...base, attributes: many })).toThrow(/attributes/)
    expect(parse(writeXml({ ...base, attributes: many.slice(1) }))).toMatchObject({ _tag: "Right" })
  })
})
