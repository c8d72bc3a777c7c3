/**
 * Entity and character references of the XML parser (`../parse.ts`): `&lt;` and its four siblings,
 * `&#123;` / `&#x7B;` to any character XML 1.0 allows, nothing else (PROTOCOL.md §4); and the
 * attribute-value normalisation of literal whitespace. Pure.
 */
import { isNameChar, isXmlCodePoint } from "../chars.js"
import type { Scanner } from "./scanner.js"

const SEMI = 0x3b
const HASH = 0x23

const PREDEFINED: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }

const LITERAL_SPACE = /[\t\n]/g
/** Attribute-value normalisation of literal whitespace (CR is already gone, section 2.11). */
export const normaliseSpace = (s: string): string =>
  s.includes("\t") || s.includes("\n") ? s.replace(LITERAL_SPACE, " ") : s

/** `raw` (found at `start`) with its references expanded; literal tab/LF become spaces in attributes. */
export const expand = (sc: Scanner, raw: string, start: number, attribute: boolean): string => {
  let out = ""
  let from = 0
  for (let amp = raw.indexOf("&"); amp >= 0; amp = raw.indexOf("&", from)) {
    const literal = raw.slice(from, amp)
    out += attribute ? normaliseSpace(literal) : literal
    sc.pos = start + amp
    out += reference(sc)
    from = sc.pos - start
  }
  const tail = raw.slice(from)
  return out + (attribute ? normaliseSpace(tail) : tail)
}

/** `&name;`, `&#123;` or `&#x7B;` at `pos`; returns the replacement text. */
const reference = (sc: Scanner): string => {
  const s = sc.s
  const at = sc.pos
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
      if (cp > 0x10ffff) sc.fail("Entity", "A character reference is beyond U+10FFFF.", at)
      i++
    }
    if (i === digitsStart || s.charCodeAt(i) !== SEMI) sc.fail("Malformed", "Malformed character reference.", at)
    if (!isXmlCodePoint(cp))
      sc.fail("Entity", `Character reference &#x${cp.toString(16)}; names a character XML 1.0 forbids.`, at)
    sc.pos = i + 1
    return String.fromCodePoint(cp)
  }
  let i = at + 1
  while (i - at <= 32 && isNameChar(s.charCodeAt(i))) i++
  if (i === at + 1 || s.charCodeAt(i) !== SEMI) sc.fail("Malformed", "A bare '&' must be escaped as &amp;.", at)
  const name = s.slice(at + 1, i)
  const ch = PREDEFINED[name]
  if (ch === undefined || !Object.hasOwn(PREDEFINED, name))
    sc.fail(
      "Entity",
      `Entity &${name}; is not allowed; only &lt; &gt; &amp; &quot; &apos; and character references are.`,
      at
    )
  sc.pos = i + 1
  return ch
}
