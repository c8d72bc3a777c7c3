/**
 * A minimal strict DER reader and writer for the two key containers SixChat handles: PKCS#8
 * `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5208, RFC 5958) and `SubjectPublicKeyInfo`
 * (RFC 5280 section 4.1), for ECDSA P-256 (RFC 5480, RFC 5915) and Ed25519 (RFC 8410) keys.
 *
 * Pure functions over bytes. Anything this reader does not understand is `null`: indefinite or
 * non-minimal lengths, trailing bytes, unknown algorithms, wrong key sizes.
 */

import { concatBytes, hex } from "../../domain/bytes.js"
import * as Der from "../../domain/cert/der.js"

/** One element as the key readers below use it: its tag, its content, where it ends. */
interface Tlv {
  readonly tag: number
  /** Content bytes (a view into the input). */
  readonly value: Uint8Array
  /** Offset of the byte after this element. */
  readonly end: number
}

const TAG_INTEGER = Der.Tag.integer
const TAG_BIT_STRING = Der.Tag.bitString
const TAG_OCTET_STRING = Der.Tag.octetString
const TAG_OID = Der.Tag.oid
const TAG_SEQUENCE = Der.Tag.sequence

const view = (tlv: Der.Tlv): Tlv => ({ tag: tlv.tag, value: Der.value(tlv), end: tlv.end })

/** The one DER reader of the project (`domain/cert/der.ts`), its refusals turned into `null`. */
const orNull = <A>(read: () => A): A | null => {
  try {
    return read()
  } catch (e) {
    if (e instanceof Der.DerError) return null
    throw e
  }
}

/** The children of a constructed value; `null` when any child is malformed. */
const children = (value: Uint8Array): ReadonlyArray<Tlv> | null =>
  orNull(() => {
    const out: Array<Tlv> = []
    for (let offset = 0; offset < value.length; ) {
      const tlv = Der.readTlv(value, offset, value.length)
      out.push(view(tlv))
      offset = tlv.end
    }
    return out
  })

/** The single top-level element of `bytes`, which must fill it exactly. */
const readWhole = (bytes: Uint8Array, tag: number): Tlv | null => orNull(() => view(Der.readAll(bytes, tag)))

// Encoded OID contents.
const OID_EC_PUBLIC_KEY = "2a8648ce3d0201" // 1.2.840.10045.2.1
const OID_PRIME256V1 = "2a8648ce3d030107" // 1.2.840.10045.3.1.7
const OID_ED25519 = "2b6570" // 1.3.101.112

type KeyAlgorithm = "p256" | "ed25519"

/** AlgorithmIdentifier: ecPublicKey with the named curve prime256v1, or Ed25519 with absent parameters. */
const readAlgorithm = (tlv: Tlv): KeyAlgorithm | null => {
  if (tlv.tag !== TAG_SEQUENCE) return null
  const parts = children(tlv.value)
  if (parts === null || parts.length < 1 || parts[0]!.tag !== TAG_OID) return null
  const oid = hex(parts[0]!.value)
  if (oid === OID_EC_PUBLIC_KEY) {
    const param = parts[1]
    return parts.length === 2 && param!.tag === TAG_OID && hex(param!.value) === OID_PRIME256V1 ? "p256" : null
  }
  // RFC 8410 section 3: the parameters MUST be absent.
  if (oid === OID_ED25519) return parts.length === 1 ? "ed25519" : null
  return null
}

export type PublicKeyInfo =
  /** SEC 1 point: 65 bytes `04 || x || y` or 33 bytes compressed `02|03 || x`. */
  | { readonly algorithm: "p256"; readonly point: Uint8Array }
  /** The 32-byte RFC 8032 encoding. */
  | { readonly algorithm: "ed25519"; readonly publicKey: Uint8Array }

/** Reads a DER SubjectPublicKeyInfo holding a P-256 or Ed25519 key; `null` otherwise. */
export const parseSpki = (spki: Uint8Array): PublicKeyInfo | null => {
  const outer = readWhole(spki, TAG_SEQUENCE)
  if (outer === null) return null
  const parts = children(outer.value)
  if (parts === null || parts.length !== 2) return null
  const algorithm = readAlgorithm(parts[0]!)
  const bits = parts[1]!
  // BIT STRING whose first content byte (unused bits) is 0.
  if (algorithm === null || bits.tag !== TAG_BIT_STRING || bits.value[0] !== 0) return null
  const key = bits.value.subarray(1)
  if (algorithm === "ed25519") return key.length === 32 ? { algorithm, publicKey: key } : null
  const uncompressed = key.length === 65 && key[0] === 0x04
  const compressed = key.length === 33 && (key[0] === 0x02 || key[0] === 0x03)
  return uncompressed || compressed ? { algorithm, point: key } : null
}

export type PrivateKeyInfo =
  /** The 32-byte scalar, plus the public point when the ECPrivateKey carries one. */
  | { readonly algorithm: "p256"; readonly secretKey: Uint8Array; readonly point: Uint8Array | undefined }
  /** The 32-byte RFC 8032 seed. */
  | { readonly algorithm: "ed25519"; readonly seed: Uint8Array }

const isSmallInteger = (tlv: Tlv | undefined, allowed: ReadonlyArray<number>): boolean =>
  tlv !== undefined && tlv.tag === TAG_INTEGER && tlv.value.length === 1 && allowed.includes(tlv.value[0]!)

/** RFC 5915 ECPrivateKey: version 1, a 32-byte privateKey, optional [0] parameters and [1] publicKey. */
const parseEcPrivateKey = (der: Uint8Array): PrivateKeyInfo | null => {
  const outer = readWhole(der, TAG_SEQUENCE)
  const parts = outer === null ? null : children(outer.value)
  if (parts === null || parts.length < 2 || !isSmallInteger(parts[0], [1])) return null
  const secret = parts[1]!
  if (secret.tag !== TAG_OCTET_STRING || secret.value.length !== 32) return null
  let point: Uint8Array | undefined
  for (const extra of parts.slice(2)) {
    if (extra.tag === 0xa0) {
      const curve = readWhole(extra.value, TAG_OID)
      if (curve === null || hex(curve.value) !== OID_PRIME256V1) return null
    } else if (extra.tag === 0xa1) {
      const bits = readWhole(extra.value, TAG_BIT_STRING)
      if (bits === null || bits.value[0] !== 0 || bits.value.length !== 66 || bits.value[1] !== 0x04) return null
      point = bits.value.subarray(1)
    } else return null
  }
  return { algorithm: "p256", secretKey: secret.value, point }
}

/** Reads an unencrypted DER PKCS#8 private key (P-256 or Ed25519); `null` otherwise. */
export const parsePkcs8 = (pkcs8: Uint8Array): PrivateKeyInfo | null => {
  const outer = readWhole(pkcs8, TAG_SEQUENCE)
  const parts = outer === null ? null : children(outer.value)
  // version 0 (RFC 5208) or 1 (RFC 5958 OneAsymmetricKey, which may append attributes / a public key).
  if (parts === null || parts.length < 3 || !isSmallInteger(parts[0], [0, 1])) return null
  const algorithm = readAlgorithm(parts[1]!)
  const wrapped = parts[2]!
  if (algorithm === null || wrapped.tag !== TAG_OCTET_STRING) return null
  if (algorithm === "p256") return parseEcPrivateKey(wrapped.value)
  // RFC 8410 section 7: CurvePrivateKey ::= OCTET STRING (the 32-byte seed).
  const seed = readWhole(wrapped.value, TAG_OCTET_STRING)
  return seed !== null && seed.value.length === 32 ? { algorithm, seed: seed.value } : null
}

// Fixed SPKI prefixes: the whole structure has constant length for each key type.
const SPKI_P256_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex")
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** DER SubjectPublicKeyInfo of an uncompressed (65-byte) P-256 point. */
export const spkiP256 = (uncompressedPoint: Uint8Array): Uint8Array => {
  if (uncompressedPoint.length !== 65 || uncompressedPoint[0] !== 0x04) {
    throw new RangeError("spkiP256 takes a 65-byte uncompressed P-256 point")
  }
  return concatBytes([SPKI_P256_PREFIX, uncompressedPoint])
}

/** DER SubjectPublicKeyInfo of a 32-byte Ed25519 public key. */
export const spkiEd25519 = (publicKey: Uint8Array): Uint8Array => {
  if (publicKey.length !== 32) throw new RangeError("spkiEd25519 takes a 32-byte Ed25519 public key")
  return concatBytes([SPKI_ED25519_PREFIX, publicKey])
}
