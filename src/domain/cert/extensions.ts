/**
 * Decoding of the certificate extensions the verifier processes (RFC 5280 4.2). Pure.
 * A known extension that does not decode makes the certificate malformed; an unknown one is
 * ignored unless critical (RFC 5280 4.2: "MUST reject ... an unrecognized critical extension").
 */
import {
  ascii,
  bitString,
  boolean,
  Cursor,
  children,
  context,
  DerError,
  oid,
  readAll,
  smallInteger,
  Tag,
  type Tlv,
  value
} from "./der.js"
import { type Name, parseName } from "./names.js"

export const ExtensionId = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  certificatePolicies: "2.5.29.32",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  policyMappings: "2.5.29.33",
  policyConstraints: "2.5.29.36",
  inhibitAnyPolicy: "2.5.29.54",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  subjectInfoAccess: "1.3.6.1.5.5.7.1.11"
} as const

export const ExtendedKeyUsage = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  any: "2.5.29.37.0"
} as const

/** keyUsage bits (RFC 5280 4.2.1.3), as bit positions. */
export const KeyUsageBit = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const

export type GeneralName =
  | { readonly type: "rfc822"; readonly value: string }
  | { readonly type: "dns"; readonly value: string }
  | { readonly type: "uri"; readonly value: string }
  | { readonly type: "directory"; readonly name: Name }
  | { readonly type: "ip"; readonly bytes: Uint8Array }
  /** otherName, x400Address, ediPartyName, registeredID: carried, never matched. */
  | { readonly type: "other"; readonly tag: number }

export interface NameConstraints {
  readonly permitted: ReadonlyArray<GeneralName>
  readonly excluded: ReadonlyArray<GeneralName>
}

export interface Extensions {
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLen: number | undefined }
  /** Bit i set = keyUsage bit i asserted; absent when the certificate has no keyUsage. */
  readonly keyUsage?: number
  readonly extKeyUsage?: ReadonlyArray<string>
  readonly subjectAltName?: ReadonlyArray<GeneralName>
  readonly nameConstraints?: NameConstraints
  readonly subjectKeyId?: Uint8Array
  readonly authorityKeyId?: Uint8Array
  /** OIDs of critical extensions this verifier does not process. */
  readonly unknownCritical: ReadonlyArray<string>
  /** Every extension present, by OID, with its `critical` flag (RFC 5280 4.2 criticality rules). */
  readonly critical: ReadonlyMap<string, boolean>
}

/** Extensions this verifier processes (or may safely ignore when critical). */
const KNOWN = new Set<string>([
  ExtensionId.subjectKeyIdentifier,
  ExtensionId.keyUsage,
  ExtensionId.subjectAltName,
  ExtensionId.issuerAltName,
  ExtensionId.basicConstraints,
  ExtensionId.nameConstraints,
  // Processed as RFC 5280 6.1 with initial-policy-set = anyPolicy and no explicit policy required:
  // any well-formed policy set is acceptable. policyConstraints / policyMappings / inhibitAnyPolicy
  // are NOT processed, so they count as unknown when critical.
  ExtensionId.certificatePolicies,
  ExtensionId.authorityKeyIdentifier,
  ExtensionId.extKeyUsage
])

/**
 * Extensions the verifier does not act on but whose structure it checks, critical or not, so a
 * malformed one makes the certificate malformed (RFC 5280 4.2: a CA MUST encode them correctly).
 * When critical they still count as unknown: they are not processed.
 */
const STRUCTURE_CHECKED = new Set<string>([
  ExtensionId.policyConstraints,
  ExtensionId.inhibitAnyPolicy,
  ExtensionId.authorityInfoAccess,
  ExtensionId.subjectInfoAccess
])

const parseGeneralName = (tlv: Tlv): GeneralName => {
  switch (tlv.tag) {
    case context(1, false):
      return { type: "rfc822", value: ascii(value(tlv)) }
    case context(2, false):
      return { type: "dns", value: ascii(value(tlv)) }
    case context(6, false):
      return { type: "uri", value: ascii(value(tlv)) }
    case context(4, true): {
      // directoryName is EXPLICIT (Name is a CHOICE).
      const c = new Cursor(tlv)
      const name = parseName(c.next(Tag.sequence))
      c.end()
      return { type: "directory", name }
    }
    case context(7, false):
      return { type: "ip", bytes: value(tlv) }
    case context(0, true):
    case context(3, true):
    case context(5, true):
    case context(8, false):
      return { type: "other", tag: tlv.tag }
    default:
      throw new DerError("bad GeneralName")
  }
}

const generalNames = (tlv: Tlv): Array<GeneralName> => {
  if (tlv.tag !== Tag.sequence) throw new DerError("expected GeneralNames")
  const names = children(tlv).map(parseGeneralName)
  if (names.length === 0) throw new DerError("empty GeneralNames")
  return names
}

const subtrees = (tlv: Tlv): Array<GeneralName> => {
  const out: Array<GeneralName> = []
  for (const subtree of children(tlv)) {
    if (subtree.tag !== Tag.sequence) throw new DerError("expected GeneralSubtree")
    const c = new Cursor(subtree)
    out.push(parseGeneralName(c.next()))
    // RFC 5280 4.2.1.10: minimum MUST be zero and maximum MUST be absent.
    const minimum = c.optional(context(0, false))
    if (minimum !== undefined && !(minimum.end - minimum.valueStart === 1 && minimum.bytes[minimum.valueStart] === 0))
      throw new DerError("GeneralSubtree minimum must be 0")
    if (c.optional(context(1, false)) !== undefined) throw new DerError("GeneralSubtree maximum must be absent")
    c.end()
  }
  if (out.length === 0) throw new DerError("empty GeneralSubtrees")
  return out
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const decodeOne = (into: Mutable<Extensions>, id: string, der: Uint8Array): void => {
  switch (id) {
    case ExtensionId.basicConstraints: {
      const c = new Cursor(readAll(der, Tag.sequence))
      const caTlv = c.optional(Tag.boolean)
      const ca = caTlv === undefined ? false : boolean(caTlv)
      const lenTlv = c.optional(Tag.integer)
      c.end()
      into.basicConstraints = { ca, pathLen: lenTlv === undefined ? undefined : smallInteger(lenTlv) }
      return
    }
    case ExtensionId.keyUsage: {
      const { bits } = bitString(readAll(der, Tag.bitString))
      let mask = 0
      for (let i = 0; i < Math.min(bits.length, 2); i++)
        for (let b = 0; b < 8; b++) if (bits[i]! & (0x80 >> b)) mask |= 1 << (i * 8 + b)
      into.keyUsage = mask
      return
    }
    case ExtensionId.extKeyUsage: {
      const oids = children(readAll(der, Tag.sequence)).map(oid)
      if (oids.length === 0) throw new DerError("empty extKeyUsage")
      into.extKeyUsage = oids
      return
    }
    case ExtensionId.subjectAltName:
      into.subjectAltName = generalNames(readAll(der, Tag.sequence))
      return
    case ExtensionId.issuerAltName:
      generalNames(readAll(der, Tag.sequence))
      return
    case ExtensionId.nameConstraints: {
      const c = new Cursor(readAll(der, Tag.sequence))
      const permitted = c.optional(context(0, true))
      const excluded = c.optional(context(1, true))
      c.end()
      if (permitted === undefined && excluded === undefined) throw new DerError("empty nameConstraints")
      into.nameConstraints = {
        permitted: permitted === undefined ? [] : subtrees(permitted),
        excluded: excluded === undefined ? [] : subtrees(excluded)
      }
      return
    }
    case ExtensionId.subjectKeyIdentifier:
      into.subjectKeyId = value(readAll(der, Tag.octetString))
      return
    case ExtensionId.authorityKeyIdentifier: {
      const c = new Cursor(readAll(der, Tag.sequence))
      const keyId = c.optional(context(0, false))
      const issuer = c.optional(context(1, true))
      if (issuer !== undefined) generalNames({ ...issuer, tag: Tag.sequence })
      const serial = c.optional(context(2, false))
      if (serial !== undefined && serial.end === serial.valueStart) throw new DerError("empty serial in AKI")
      c.end()
      if (keyId !== undefined) into.authorityKeyId = value(keyId)
      return
    }
    case ExtensionId.authorityInfoAccess:
    case ExtensionId.subjectInfoAccess: {
      // RFC 5280 4.2.2.1 / 4.2.2.2: SEQUENCE SIZE (1..MAX) OF AccessDescription { accessMethod, accessLocation }.
      const descriptions = children(readAll(der, Tag.sequence))
      if (descriptions.length === 0) throw new DerError("empty information access extension")
      for (const description of descriptions) {
        if (description.tag !== Tag.sequence) throw new DerError("expected AccessDescription")
        const c = new Cursor(description)
        oid(c.next(Tag.oid))
        parseGeneralName(c.next())
        c.end()
      }
      return
    }
    case ExtensionId.policyConstraints: {
      // RFC 5280 4.2.1.11: at least one of requireExplicitPolicy [0], inhibitPolicyMapping [1].
      const c = new Cursor(readAll(der, Tag.sequence))
      const require = c.optional(context(0, false))
      const inhibit = c.optional(context(1, false))
      c.end()
      if (require === undefined && inhibit === undefined) throw new DerError("empty policyConstraints")
      for (const skip of [require, inhibit]) if (skip !== undefined) smallInteger({ ...skip, tag: Tag.integer })
      return
    }
    case ExtensionId.inhibitAnyPolicy:
      smallInteger(readAll(der, Tag.integer))
      return
    case ExtensionId.certificatePolicies: {
      const policies = children(readAll(der, Tag.sequence))
      if (policies.length === 0) throw new DerError("empty certificatePolicies")
      for (const info of policies) oid(new Cursor(info).next(Tag.oid))
      return
    }
  }
}

/** Decodes the `Extensions` SEQUENCE (the content of TBSCertificate's `[3]`). */
export const parseExtensions = (tlv: Tlv | undefined): Extensions => {
  const critical = new Map<string, boolean>()
  const out: Mutable<Extensions> = { unknownCritical: [], critical }
  if (tlv === undefined) return out
  const list = children(tlv)
  // RFC 5280 4.2: at least one extension when the field is present, and no duplicates.
  if (list.length === 0) throw new DerError("empty Extensions")
  const unknownCritical: Array<string> = []
  for (const ext of list) {
    if (ext.tag !== Tag.sequence) throw new DerError("expected Extension")
    const c = new Cursor(ext)
    const id = oid(c.next(Tag.oid))
    const criticalTlv = c.optional(Tag.boolean)
    const isCritical = criticalTlv === undefined ? false : boolean(criticalTlv)
    const extnValue = value(c.next(Tag.octetString))
    c.end()
    if (critical.has(id)) throw new DerError(`duplicate extension ${id}`)
    critical.set(id, isCritical)
    if (KNOWN.has(id) || STRUCTURE_CHECKED.has(id)) decodeOne(out, id, extnValue)
    if (!KNOWN.has(id) && isCritical) unknownCritical.push(id)
  }
  out.unknownCritical = unknownCritical
  return out
}

export const hasKeyUsage = (keyUsage: number | undefined, bit: number): boolean =>
  keyUsage === undefined || (keyUsage & (1 << bit)) !== 0
