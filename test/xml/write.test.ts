/**
 * The writer's output is a wire format (signed and hashed bytes depend on it): it must stay byte for byte
 * what the straightforward writer produced, whatever shortcuts it takes for plain values. The reference
 * below is that writer, escaping every value with the same regular expressions.
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { XmlElement } from "../../src/domain/xml/model.js"
import { parseXml } from "../../src/domain/xml/parse.js"
import { serialiseXml, writeXml } from "../../src/domain/xml/write.js"
import { xmlText, xmlTree } from "./arbitraries.js"

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;"
}
const escaped = (s: string, special: RegExp) => s.replace(special, (c) => ESCAPES[c]!)

const reference = (el: XmlElement, root = true): string => {
  let out = `<${el.name}`
  if (root && el.namespace !== "") out += ` xmlns="${escaped(el.namespace, /[&<>"\t\n\r]/g)}"`
  for (const a of el.attributes) out += ` ${a.name}="${escaped(a.value, /[&<>"\t\n\r]/g)}"`
  if (el.children.length === 0 && el.text === "") return `${out}/>`
  return `${out}>${escaped(el.text, /[&<>\r]/g)}${el.children.map((c) => reference(c, false)).join("")}</${el.name}>`
}

const into = (el: XmlElement, namespace: string): XmlElement => ({
  ...el,
  namespace,
  children: el.children.map((c) => into(c, namespace))
})

describe("writeXml", () => {
  it("writes exactly what the reference writer writes, as UTF-8", () => {
    const withValues = fc.tuple(xmlTree, xmlText(40), xmlText(40)).map(
      ([tree, value, text]): XmlElement => ({
        ...into(tree, "urn:sixchat:irp:1"),
        attributes: [...tree.attributes.filter((a) => a.name !== "zz"), { name: "zz", value }],
        ...(tree.children.length === 0 ? { text } : {})
      })
    )
    fc.assert(
      fc.property(fc.oneof(xmlTree, withValues), (tree) => {
        const text = reference(tree)
        expect(serialiseXml(tree)).toBe(text)
        expect(writeXml(tree)).toEqual(new TextEncoder().encode(text))
        expect(Either.isRight(parseXml(writeXml(tree)))).toBe(true)
      }),
      { numRuns: 1000, seed: 9 }
    )
  })

  it("hands out arrays of their own: a later document does not change an earlier one", () => {
    const a = writeXml({ name: "a", namespace: "", attributes: [{ name: "v", value: "1" }], children: [], text: "" })
    const copy = a.slice()
    writeXml({ name: "b", namespace: "", attributes: [{ name: "v", value: "2" }], children: [], text: "" })
    expect(a).toEqual(copy)
  })
})
