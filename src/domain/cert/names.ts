/**
 * X.501 Names: parsing, comparison (RFC 5280 7.1) and display. Pure.
 *
 * Comparison follows RFC 5280 7.1 closely enough for path building: attribute values of the
 * string types are compared after Unicode NFKC, case folding and whitespace folding (RFC 4518's
 * essentials), whatever string type each side used; other values compare by their DER bytes.
 */
import { hex } from "../bytes.js"
import { Cursor, children, DerError, latin1, oid, Tag, type Tlv, value, whole } from "./der.js"

export const AttributeType = {
  commonName: "2.5.4.3",
  emailAddress: "1.2.840.113549.1.9.1"
} as const

export interface Attribute {
  /** Dotted OID of the attribute type. */
  readonly type: string
  /** Decoded text when the value is one of the directory string types. */
  readonly text: string | undefined
}

export interface Name {
  /** The Name's DER, as received. */
  readonly der: Uint8Array
  readonly rdns: ReadonlyArray<ReadonlyArray<Attribute>>
  /** One comparison key per RDN (RFC 5280 7.1 matching); equal names have equal keys. */
  readonly rdnKeys: ReadonlyArray<string>
  /** All of `rdnKeys`, joined: compare two names with `===`. */
  readonly key: string
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf16be = new TextDecoder("utf-16be", { fatal: true })

const decodeText = (tlv: Tlv): string | undefined => {
  const v = value(tlv)
  try {
    switch (tlv.tag) {
      case Tag.utf8String:
        return utf8.decode(v)
      case Tag.printableString:
      case Tag.ia5String:
        for (const b of v) if (b > 0x7f) throw new DerError("non-ASCII string")
        return latin1(v)
      case Tag.teletexString:
        return latin1(v)
      case Tag.bmpString:
        return utf16be.decode(v)
      case Tag.universalString: {
        if (v.length % 4 !== 0) throw new DerError("bad UniversalString")
        let s = ""
        for (let i = 0; i < v.length; i += 4)
          s += String.fromCodePoint(((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0)
        return s
      }
      default:
        return undefined
    }
  } catch (e) {
    throw e instanceof DerError ? e : new DerError("undecodable directory string")
  }
}

/** RFC 4518 in brief: compatibility-normalise, fold case, trim and collapse inner spaces. */
const fold = (text: string): string => text.normalize("NFKC").toLowerCase().trim().replace(/\s+/g, " ")

/** Parses a Name (`SEQUENCE OF SET OF AttributeTypeAndValue`) from its TLV. */
export const parseName = (tlv: Tlv): Name => {
  if (tlv.tag !== Tag.sequence) throw new DerError("expected a Name")
  const rdns: Array<Array<Attribute>> = []
  const rdnKeys: Array<string> = []
  for (const set of children(tlv)) {
    if (set.tag !== Tag.set) throw new DerError("expected an RDN SET")
    const attrs: Array<Attribute> = []
    const keys: Array<string> = []
    for (const atv of children(set)) {
      const c = new Cursor(atv)
      const type = oid(c.next())
      const valueTlv = c.next()
      c.end()
      const text = decodeText(valueTlv)
      attrs.push({ type, text })
      keys.push(`${type}=${text === undefined ? `#${hex(whole(valueTlv))}` : JSON.stringify(fold(text))}`)
    }
    if (attrs.length === 0) throw new DerError("empty RDN")
    rdns.push(attrs)
    rdnKeys.push(keys.sort().join("+"))
  }
  return { der: whole(tlv), rdns, rdnKeys, key: rdnKeys.join(",") }
}

export const namesEqual = (a: Name, b: Name): boolean => a.key === b.key

/** Whether `prefix`'s RDNs begin `name` (directoryName constraints, RFC 5280 4.2.1.10). */
export const isNamePrefix = (prefix: Name, name: Name): boolean => {
  if (prefix.rdnKeys.length > name.rdnKeys.length) return false
  for (let i = 0; i < prefix.rdnKeys.length; i++) if (prefix.rdnKeys[i] !== name.rdnKeys[i]) return false
  return true
}

/** Every text value of the given attribute type, in order. */
export const attributeTexts = (name: Name, type: string): Array<string> => {
  const out: Array<string> = []
  for (const rdn of name.rdns) for (const a of rdn) if (a.type === type && a.text !== undefined) out.push(a.text)
  return out
}

const SHORT: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "1.2.840.113549.1.9.1": "emailAddress",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC"
}

/** RFC 4514-style display, most specific RDN first: `CN=alice@example.org, O=Example`. */
export const formatName = (name: Name): string => {
  if (name.rdns.length === 0) return "(empty name)"
  return name.rdns
    .map((rdn) =>
      rdn
        .map(
          (a) => `${SHORT[a.type] ?? a.type}=${a.text === undefined ? "#…" : a.text.replace(/([,+"\\<>;=])/g, "\\$1")}`
        )
        .join("+")
    )
    .reverse()
    .join(", ")
}
