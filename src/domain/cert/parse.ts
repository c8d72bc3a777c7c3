/**
 * One X.509 v1/v3 certificate (RFC 5280 4.1), parsed into what path building and validation read.
 * Pure. Every byte field is a view into the DER as received: the TBS a signature covers is never
 * re-encoded (PROTOCOL.md §13).
 */
import { serialHex } from "../pki/profile.js"
import { type AlgorithmIdentifier, parseAlgorithmIdentifier } from "./algorithms.js"
import {
  bitString,
  bytesEqual,
  Cursor,
  context,
  DerError,
  integerBytes,
  readAll,
  smallInteger,
  Tag,
  type Tlv,
  time,
  whole
} from "./der.js"
import { type Extensions, parseExtensions } from "./extensions.js"
import { type Name, namesEqual, parseName } from "./names.js"

export interface ParsedCertificate {
  readonly der: Uint8Array
  /** The exact TBSCertificate DER the signature covers. */
  readonly tbs: Uint8Array
  /** 1, 2 or 3. */
  readonly version: number
  /** Lower-case hex of the serial number's magnitude, no leading zeros (`"0"` for zero). */
  readonly serial: string
  /** The serial INTEGER's content octets as encoded (two's complement, minimal). */
  readonly serialOctets: Uint8Array
  readonly signatureAlgorithm: AlgorithmIdentifier
  /** The signature BIT STRING's content. */
  readonly signature: Uint8Array
  readonly issuer: Name
  readonly subject: Name
  /** Epoch milliseconds (certificate times have whole seconds). */
  readonly notBefore: number
  readonly notAfter: number
  /** The SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array
  readonly publicKeyAlgorithm: AlgorithmIdentifier
  readonly extensions: Extensions
  /** Subject and issuer names match (RFC 5280 6.1: self-issued certificates are not counted in path lengths). */
  readonly selfIssued: boolean
}

export type ParseResult =
  | { readonly _tag: "Parsed"; readonly certificate: ParsedCertificate }
  | { readonly _tag: "Malformed"; readonly detail: string }
  /** Over `MAX_CERTIFICATE_BYTES`: refused unread, a resource limit rather than bad input. */
  | { readonly _tag: "TooLarge"; readonly size: number }

/** Certificates larger than this are refused before parsing (ours are < 1 KiB, RSA-4096 ones ~2 KiB). */
export const MAX_CERTIFICATE_BYTES = 16 * 1024

const parseOrThrow = (der: Uint8Array): ParsedCertificate => {
  const outer = new Cursor(readAll(der, Tag.sequence))
  const tbsTlv = outer.next(Tag.sequence)
  const signatureAlgorithm = parseAlgorithmIdentifier(outer.next(Tag.sequence))
  const sig = bitString(outer.next(Tag.bitString))
  outer.end()
  if (sig.unused !== 0) throw new DerError("signature has unused bits")

  const tbs = new Cursor(tbsTlv)
  const versionTlv = tbs.optional(context(0, true))
  let version = 1
  if (versionTlv !== undefined) {
    const vc = new Cursor(versionTlv)
    version = smallInteger(vc.next(Tag.integer)) + 1
    vc.end()
    if (version > 3) throw new DerError("unknown certificate version")
  }
  const serialOctets = integerBytes(tbs.next(Tag.integer))
  const innerAlgorithm = parseAlgorithmIdentifier(tbs.next(Tag.sequence))
  // RFC 5280 4.1.1.2: signatureAlgorithm MUST equal TBSCertificate.signature.
  if (!bytesEqual(innerAlgorithm.der, signatureAlgorithm.der)) throw new DerError("signature algorithms differ")
  const issuer = parseName(tbs.next(Tag.sequence))
  const validity = new Cursor(tbs.next(Tag.sequence))
  const notBefore = time(validity.next())
  const notAfter = time(validity.next())
  validity.end()
  const subject = parseName(tbs.next(Tag.sequence))
  const spkiTlv = tbs.next(Tag.sequence)
  const spkiCursor = new Cursor(spkiTlv)
  const publicKeyAlgorithm = parseAlgorithmIdentifier(spkiCursor.next(Tag.sequence))
  bitString(spkiCursor.next(Tag.bitString))
  spkiCursor.end()
  // issuerUniqueID / subjectUniqueID (v2+): read and ignored.
  tbs.optional(context(1, false))
  tbs.optional(context(2, false))
  const extTlv = tbs.optional(context(3, true))
  tbs.end()
  if (extTlv !== undefined && version !== 3) throw new DerError("extensions in a pre-v3 certificate")
  let extensionsSeq: Tlv | undefined
  if (extTlv !== undefined) {
    const ec = new Cursor(extTlv)
    extensionsSeq = ec.next(Tag.sequence)
    ec.end()
  }
  return {
    der,
    tbs: whole(tbsTlv),
    version,
    serial: serialHex(serialOctets),
    serialOctets,
    signatureAlgorithm,
    signature: sig.bits,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: whole(spkiTlv),
    publicKeyAlgorithm,
    extensions: parseExtensions(extensionsSeq),
    selfIssued: namesEqual(issuer, subject)
  }
}

/** Parses one DER certificate; never throws. */
export const parseCertificate = (der: Uint8Array): ParseResult => {
  if (der.length > MAX_CERTIFICATE_BYTES) return { _tag: "TooLarge", size: der.length }
  try {
    return { _tag: "Parsed", certificate: parseOrThrow(der) }
  } catch (e) {
    if (e instanceof DerError) return { _tag: "Malformed", detail: e.message }
    // A RangeError from a hostile length or a TextDecoder failure is malformed input too.
    return { _tag: "Malformed", detail: e instanceof Error ? e.message : String(e) }
  }
}
