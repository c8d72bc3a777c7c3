/**
 * pkijs / asn1js building blocks shared by the CA modules: parsing, names, times, extensions and
 * signing. pkijs encodes every structure; signatures are made and checked with node:crypto
 * `KeyObject`s (synchronous, a fraction of a millisecond), so no pkijs crypto engine is involved and
 * the AlgorithmIdentifier is exactly RFC 5758's ecdsa-with-SHA256 with absent parameters.
 */
import * as nodeCrypto from "node:crypto"
import * as asn1js from "asn1js"
import * as pkijs from "pkijs"
import { Oid } from "../../domain/pki/oids.js"
import { type KeyUsage, keyUsageBits, usesUtcTime } from "../../domain/pki/profile.js"

/** A copy of the bytes as an exact ArrayBuffer (asn1js and pkijs want ArrayBuffers). */
export const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => {
  const copy = new ArrayBuffer(bytes.byteLength)
  new Uint8Array(copy).set(bytes)
  return copy
}

export const toBytes = (buffer: ArrayBuffer): Uint8Array => new Uint8Array(buffer)

/** Parses one complete DER value (trailing bytes refused) into a pkijs object; throws on failure. */
export const parseDer = <T>(der: Uint8Array, what: string, make: (schema: asn1js.AsnType) => T): T => {
  const asn1 = asn1js.fromBER(toArrayBuffer(der))
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) throw new Error(`${what} is not a single DER value`)
  return make(asn1.result)
}

export const parseCertificate = (der: Uint8Array): pkijs.Certificate =>
  parseDer(der, "certificate", (schema) => new pkijs.Certificate({ schema }))

export const parseSpki = (der: Uint8Array): pkijs.PublicKeyInfo =>
  parseDer(der, "public key", (schema) => new pkijs.PublicKeyInfo({ schema }))

/**
 * A name of single-attribute RDNs, values as UTF8String (RFC 5280 section 4.1.2.4). Built as DER and
 * parsed back because pkijs would put every attribute into one multi-valued RDN.
 */
export const distinguishedName = (
  attributes: ReadonlyArray<readonly [oid: string, value: string]>
): pkijs.RelativeDistinguishedNames => {
  const der = new asn1js.Sequence({
    value: attributes.map(
      ([type, value]) =>
        new asn1js.Set({
          value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()]
        })
    )
  }).toBER(false)
  return parseDer(new Uint8Array(der), "name", (schema) => new pkijs.RelativeDistinguishedNames({ schema }))
}

/** Values of one attribute type in a name, as strings (any string type). */
export const nameValues = (name: pkijs.RelativeDistinguishedNames, oid: string): ReadonlyArray<string> =>
  name.typesAndValues.filter((tv) => tv.type === oid).map((tv) => String(tv.value.valueBlock.value))

export const certTime = (date: Date): pkijs.Time => new pkijs.Time({ type: usesUtcTime(date) ? 0 : 1, value: date })

export const integer = (bytes: Uint8Array): asn1js.Integer => new asn1js.Integer({ valueHex: toArrayBuffer(bytes) })

/** The INTEGER body of a serial number as bytes (two's complement, as encoded). */
export const integerBytes = (value: asn1js.Integer): Uint8Array => Uint8Array.from(value.valueBlock.valueHexView)

// --- Extensions (RFC 5280 section 4.2) ---

const extension = (extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension =>
  new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) })

/** cA=FALSE encodes as an empty SEQUENCE (DEFAULT FALSE is omitted in DER). Critical for CAs (4.2.1.9). */
export const basicConstraints = (ca: boolean, pathLen?: number): pkijs.Extension =>
  extension(
    Oid.basicConstraints,
    true,
    new pkijs.BasicConstraints(pathLen === undefined ? { cA: ca } : { cA: ca, pathLenConstraint: pathLen }).toSchema()
  )

/** Key usage is critical (4.2.1.3: "conforming CAs SHOULD mark this extension as critical"). */
export const keyUsage = (usages: ReadonlyArray<KeyUsage>): pkijs.Extension => {
  const { bytes, unusedBits } = keyUsageBits(usages)
  return extension(Oid.keyUsage, true, new asn1js.BitString({ valueHex: toArrayBuffer(bytes), unusedBits }))
}

export const extKeyUsage = (purposes: ReadonlyArray<string>): pkijs.Extension =>
  extension(Oid.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [...purposes] }).toSchema())

export type AltName =
  | { readonly type: "email"; readonly value: string }
  | { readonly type: "dns"; readonly value: string }

const generalName = (name: AltName): pkijs.GeneralName =>
  new pkijs.GeneralName({ type: name.type === "email" ? 1 : 2, value: name.value })

/** Non-critical: every certificate we issue has a non-empty subject (4.2.1.6). */
export const subjectAltName = (names: ReadonlyArray<AltName>): pkijs.Extension =>
  extension(Oid.subjectAltName, false, new pkijs.AltName({ altNames: names.map(generalName) }).toSchema())

export const subjectKeyIdentifier = (keyId: Uint8Array): pkijs.Extension =>
  extension(Oid.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: toArrayBuffer(keyId) }))

export const authorityKeyIdentifier = (keyId: Uint8Array): pkijs.Extension =>
  extension(
    Oid.authorityKeyIdentifier,
    false,
    new pkijs.AuthorityKeyIdentifier({
      keyIdentifier: new asn1js.OctetString({ valueHex: toArrayBuffer(keyId) })
    }).toSchema()
  )

/** Permitted subtrees only; critical as 4.2.1.10 requires. */
export const nameConstraints = (permitted: ReadonlyArray<AltName>): pkijs.Extension =>
  extension(
    Oid.nameConstraints,
    true,
    new pkijs.NameConstraints({
      permittedSubtrees: permitted.map((name) => new pkijs.GeneralSubtree({ base: generalName(name) }))
    }).toSchema()
  )

export const crlNumber = (value: Uint8Array): pkijs.Extension => extension(Oid.crlNumber, false, integer(value))

/** CRLReason is an ENUMERATED (RFC 5280 section 5.3.1). */
export const crlReason = (code: number): pkijs.Extension =>
  extension(Oid.crlReason, false, new asn1js.Enumerated({ value: code }))

/** The value of an extension as raw DER, when present. */
export const extensionValue = (
  extensions: ReadonlyArray<pkijs.Extension> | undefined,
  oid: string
): Uint8Array | undefined => {
  const ext = extensions?.find((e) => e.extnID === oid)
  return ext === undefined ? undefined : Uint8Array.from(ext.extnValue.valueBlock.valueHexView)
}

// --- Keys and signatures ---

/** RFC 7093 section 2 method 1: the leftmost 160 bits of SHA-256 over the subjectPublicKey BIT STRING value. */
export const keyIdentifier = (spki: pkijs.PublicKeyInfo): Uint8Array =>
  new Uint8Array(
    nodeCrypto.createHash("sha256").update(spki.subjectPublicKey.valueBlock.valueHexView).digest().subarray(0, 20)
  )

export const ecdsaWithSha256 = (): pkijs.AlgorithmIdentifier =>
  new pkijs.AlgorithmIdentifier({ algorithmId: Oid.ecdsaWithSha256 })

/** DER ECDSA signature (X9.62 Ecdsa-Sig-Value) over `tbs` with SHA-256. */
export const signEcdsaSha256 = (tbs: Uint8Array, key: nodeCrypto.KeyObject): Uint8Array =>
  new Uint8Array(nodeCrypto.sign("sha256", tbs, key))

export const importPkcs8 = (pkcs8: Uint8Array): nodeCrypto.KeyObject =>
  nodeCrypto.createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" })

export const importSpki = (spki: Uint8Array): nodeCrypto.KeyObject =>
  nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" })

/** The contents of a DER OCTET STRING (an SKI extension value). */
export const octetStringValue = (der: Uint8Array): Uint8Array =>
  parseDer(der, "key identifier", (schema) => {
    if (!(schema instanceof asn1js.OctetString)) throw new Error("a key identifier must be an OCTET STRING")
    return Uint8Array.from(schema.valueBlock.valueHexView)
  })

export const nameDer = (name: pkijs.RelativeDistinguishedNames): Uint8Array =>
  new Uint8Array(name.toSchema().toBER(false))

/** Anything pkijs signs over a TBS part: a certificate or a CRL. */
export interface Signable {
  tbsView: Uint8Array
  signatureValue: asn1js.BitString
  /** `true`: encode the TBS part from the fields (pkijs keeps `encodeTBS` protected on some classes). */
  toSchema(encodeFlag?: boolean): asn1js.Sequence
}

/** Encodes the TBS part from the fields and keeps it as the bytes to sign. */
export const encodeTbs = (target: Signable): Uint8Array => {
  const tbs = target.toSchema(true).valueBlock.value[0]!.toBER(false)
  target.tbsView = new Uint8Array(tbs)
  return target.tbsView
}

/** Encodes the TBS part, signs it ecdsa-with-SHA256 and returns the whole structure as DER. */
export const signAndEncode = (target: Signable, key: nodeCrypto.KeyObject): Uint8Array => {
  const tbs = encodeTbs(target)
  target.signatureValue = new asn1js.BitString({ valueHex: toArrayBuffer(signEcdsaSha256(tbs, key)) })
  return new Uint8Array(target.toSchema().toBER(false))
}
