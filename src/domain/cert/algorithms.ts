/**
 * Signature and public-key algorithms the verifier supports (RFC 4055, RFC 5480, RFC 5758, RFC 8410).
 * Pure: it names the scheme; `layers/CertVerifierLive` runs it with node:crypto. Anything not
 * listed here is "UnsupportedAlgorithm" (PROTOCOL.md §13).
 */
import { Cursor, context, DerError, oid, smallInteger, Tag, type Tlv, whole } from "./der.js"

export interface AlgorithmIdentifier {
  readonly oid: string
  /** The parameters TLV, when present. */
  readonly params: Tlv | undefined
  /** The whole AlgorithmIdentifier DER (RFC 5280 4.1.1.2 requires both copies to be equal). */
  readonly der: Uint8Array
}

export const parseAlgorithmIdentifier = (tlv: Tlv): AlgorithmIdentifier => {
  if (tlv.tag !== Tag.sequence) throw new DerError("expected AlgorithmIdentifier")
  const c = new Cursor(tlv)
  const id = oid(c.next(Tag.oid))
  const params = c.done ? undefined : c.next()
  c.end()
  return { oid: id, params, der: whole(tlv) }
}

export type Hash = "sha256" | "sha384" | "sha512"

export type SignatureScheme =
  | { readonly kind: "rsa-pkcs1"; readonly hash: Hash }
  | { readonly kind: "rsa-pss"; readonly hash: Hash; readonly saltLength: number }
  | { readonly kind: "ecdsa"; readonly hash: Hash }
  | { readonly kind: "ed25519" }

export type Curve = "P-256" | "P-384" | "P-521"

export type KeyKind =
  | { readonly kind: "rsa" }
  | { readonly kind: "rsa-pss" }
  | { readonly kind: "ec"; readonly curve: Curve }
  | { readonly kind: "ed25519" }

const RSA_PKCS1: Record<string, Hash> = {
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512"
}
const ECDSA: Record<string, Hash> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512"
}
const HASHES: Record<string, Hash> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512"
}
const CURVES: Record<string, Curve> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521"
}
const OID = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
  ecPublicKey: "1.2.840.10045.2.1",
  ed25519: "1.3.101.112"
} as const

const isNullOrAbsent = (params: Tlv | undefined): boolean =>
  params === undefined || (params.tag === Tag.null && params.end === params.valueStart)

/** A hash AlgorithmIdentifier we support (parameters NULL or absent, RFC 4055 2.1). */
const hashOf = (tlv: Tlv): Hash | undefined => {
  const alg = parseAlgorithmIdentifier(tlv)
  return isNullOrAbsent(alg.params) ? HASHES[alg.oid] : undefined
}

/** RSASSA-PSS-params (RFC 4055 3.1); `undefined` for defaults we refuse (SHA-1) or a mask hash that differs. */
const pssScheme = (params: Tlv | undefined): SignatureScheme | undefined => {
  if (params === undefined || params.tag !== Tag.sequence) return undefined
  const c = new Cursor(params)
  const hashTlv = c.optional(context(0, true))
  const mgfTlv = c.optional(context(1, true))
  const saltTlv = c.optional(context(2, true))
  const trailerTlv = c.optional(context(3, true))
  c.end()
  // Absent hash / MGF mean SHA-1: unsupported.
  if (hashTlv === undefined || mgfTlv === undefined) return undefined
  const hash = hashOf(new Cursor(hashTlv).next())
  const mgf = parseAlgorithmIdentifier(new Cursor(mgfTlv).next())
  if (hash === undefined || mgf.oid !== OID.mgf1 || mgf.params === undefined) return undefined
  // node:crypto uses the signature hash for MGF1 too, so the two must agree.
  if (hashOf(mgf.params) !== hash) return undefined
  const saltLength = saltTlv === undefined ? 20 : smallInteger(new Cursor(saltTlv).next(Tag.integer))
  const trailer = trailerTlv === undefined ? 1 : smallInteger(new Cursor(trailerTlv).next(Tag.integer))
  if (trailer !== 1 || saltLength > 1024) return undefined
  return { kind: "rsa-pss", hash, saltLength }
}

/** Runs a decoder over parameters; parameters that do not decode make the algorithm unsupported. */
const orUndefined = <A>(f: () => A | undefined): A | undefined => {
  try {
    return f()
  } catch (e) {
    if (e instanceof DerError) return undefined
    throw e
  }
}

/** The signature scheme named by a certificate's signatureAlgorithm; `undefined` when unsupported. */
export const signatureScheme = (alg: AlgorithmIdentifier): SignatureScheme | undefined => orUndefined(() => scheme(alg))

const scheme = (alg: AlgorithmIdentifier): SignatureScheme | undefined => {
  const pkcs1 = RSA_PKCS1[alg.oid]
  // RFC 4055 5: parameters NULL (absent tolerated, as most verifiers do).
  if (pkcs1 !== undefined) return isNullOrAbsent(alg.params) ? { kind: "rsa-pkcs1", hash: pkcs1 } : undefined
  const ecdsa = ECDSA[alg.oid]
  // RFC 5758 3.2: parameters MUST be absent.
  if (ecdsa !== undefined) return alg.params === undefined ? { kind: "ecdsa", hash: ecdsa } : undefined
  if (alg.oid === OID.ed25519) return alg.params === undefined ? { kind: "ed25519" } : undefined
  if (alg.oid === OID.rsaPss) return pssScheme(alg.params)
  return undefined
}

/** The kind of a SubjectPublicKeyInfo's key; `undefined` when unsupported. */
export const keyKind = (alg: AlgorithmIdentifier): KeyKind | undefined => orUndefined(() => kindOf(alg))

const kindOf = (alg: AlgorithmIdentifier): KeyKind | undefined => {
  switch (alg.oid) {
    case OID.rsaEncryption:
      return isNullOrAbsent(alg.params) ? { kind: "rsa" } : undefined
    case OID.rsaPss:
      return { kind: "rsa-pss" }
    case OID.ecPublicKey: {
      const curve = alg.params?.tag === Tag.oid ? CURVES[oid(alg.params)] : undefined
      return curve === undefined ? undefined : { kind: "ec", curve }
    }
    case OID.ed25519:
      return alg.params === undefined ? { kind: "ed25519" } : undefined
    default:
      return undefined
  }
}

/** Whether a signature scheme can be produced by a key of this kind. */
export const schemeFitsKey = (scheme: SignatureScheme, key: KeyKind): boolean => {
  switch (scheme.kind) {
    case "rsa-pkcs1":
      return key.kind === "rsa"
    case "rsa-pss":
      return key.kind === "rsa" || key.kind === "rsa-pss"
    case "ecdsa":
      return key.kind === "ec"
    case "ed25519":
      return key.kind === "ed25519"
  }
}
