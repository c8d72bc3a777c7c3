/**
 * PKCS#10 certificate requests (RFC 2986): made by `sixchat id new`, checked by the IRP server
 * before it issues a certificate (IRP issue section 1: proof of possession, the token's handle,
 * key type and size).
 */
import * as nodeCrypto from "node:crypto"
import { p256, p384 } from "@noble/curves/nist.js"
import * as asn1js from "asn1js"
import type { Effect } from "effect"
import * as pkijs from "pkijs"
import type { Handle } from "../../domain/brands.js"
import { CaError } from "../../domain/pki/errors.js"
import { Oid } from "../../domain/pki/oids.js"
import { defaultKeyPolicy, type KeyAlgorithm, type KeyPolicy, MAX_CSR_BYTES } from "../../domain/pki/profile.js"
import { caTry } from "./keys.js"
import * as X from "./pkix.js"

export interface CheckedCsr {
  /** The requester's SubjectPublicKeyInfo DER: what the certificate will certify. */
  readonly spki: Uint8Array
  readonly handle: Handle
  readonly algorithm: KeyAlgorithm
}

const fail = (reason: CaError["reason"], message: string, cause?: unknown): never => {
  throw new CaError({ reason, message, cause })
}

/** The accepted key type of a public key, or a KeyPolicy failure saying why not. */
const classifyKey = (spki: Uint8Array, policy: KeyPolicy): { key: nodeCrypto.KeyObject; algorithm: KeyAlgorithm } => {
  let key: nodeCrypto.KeyObject
  try {
    // OpenSSL also checks here that an EC point lies on its curve.
    key = X.importSpki(spki)
  } catch (cause) {
    return fail("KeyPolicy", "The CSR's public key uses an unsupported algorithm or is malformed.", cause)
  }
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  const algorithm: KeyAlgorithm | undefined =
    type === "ed25519"
      ? "ed25519"
      : type === "ec" && curve === "prime256v1"
        ? "ecdsa-p256"
        : type === "ec" && curve === "secp384r1"
          ? "ecdsa-p384"
          : undefined
  if (algorithm === undefined || !policy.accepted.includes(algorithm)) {
    const what =
      type === "rsa" || type === "rsa-pss"
        ? `an RSA key of ${key.asymmetricKeyDetails?.modulusLength ?? "unknown"} bits`
        : type === "ec"
          ? `an EC key on curve ${curve ?? "unknown"}`
          : `a key of type ${type ?? "unknown"}`
    return fail("KeyPolicy", `The CSR carries ${what}; use one of: ${policy.accepted.join(", ")}.`)
  }
  return { key, algorithm }
}

/**
 * The SPKI the certificate will carry: EC points uncompressed (RFC 5480 section 2.2: the form every
 * implementation must read), so peers never meet a compressed key. The point is already validated.
 */
const canonicalSpki = (spki: pkijs.PublicKeyInfo, algorithm: KeyAlgorithm): Uint8Array => {
  const point = spki.subjectPublicKey.valueBlock.valueHexView
  if (algorithm !== "ed25519" && point[0] !== 0x04) {
    const curve = algorithm === "ecdsa-p256" ? p256 : p384
    const uncompressed = curve.Point.fromBytes(point).toBytes(false)
    spki.subjectPublicKey = new asn1js.BitString({ valueHex: X.toArrayBuffer(uncompressed) })
  }
  return new Uint8Array(spki.toSchema().toBER(false))
}

/** node:crypto digest name for the CSR's signature algorithm given its key type (null: Ed25519, no pre-hash). */
const digestFor = (oid: string, algorithm: KeyAlgorithm): string | null | undefined => {
  if (algorithm === "ed25519") return oid === Oid.ed25519 ? null : undefined
  switch (oid) {
    case Oid.ecdsaWithSha256:
      return "sha256"
    case Oid.ecdsaWithSha384:
      return "sha384"
    case Oid.ecdsaWithSha512:
      return "sha512"
    default:
      return undefined
  }
}

/** rfc822Name / other names from the SAN of the CSR's extensionRequest attribute, if any. */
const requestedAltNames = (csr: pkijs.CertificationRequest): ReadonlyArray<pkijs.GeneralName> | undefined => {
  const requests = (csr.attributes ?? []).filter((a) => a.type === Oid.extensionRequest)
  if (requests.length === 0) return undefined
  if (requests.length > 1 || requests[0]!.values.length !== 1) {
    return fail("BadCsr", "The CSR has more than one extensionRequest attribute.")
  }
  const extensions = new pkijs.Extensions({ schema: requests[0]!.values[0] })
  const sans = extensions.extensions.filter((e) => e.extnID === Oid.subjectAltName)
  if (sans.length === 0) return undefined
  if (sans.length > 1) return fail("BadCsr", "The CSR requests more than one subjectAltName extension.")
  const altName = X.parseDer(
    Uint8Array.from(sans[0]!.extnValue.valueBlock.valueHexView),
    "subjectAltName",
    (schema) => new pkijs.AltName({ schema })
  )
  return altName.altNames
}

const parseCsr = (csrDer: Uint8Array): pkijs.CertificationRequest => {
  if (csrDer.byteLength === 0 || csrDer.byteLength > MAX_CSR_BYTES) {
    return fail("BadCsr", `A CSR must be 1 to ${MAX_CSR_BYTES} bytes of DER.`)
  }
  let csr: pkijs.CertificationRequest
  try {
    csr = X.parseDer(csrDer, "CSR", (schema) => new pkijs.CertificationRequest({ schema }))
  } catch (cause) {
    return fail("BadCsr", "The CSR is not a readable PKCS#10 request.", cause)
  }
  if (csr.version !== 0)
    return fail("BadCsr", `The CSR has version ${csr.version + 1}; PKCS#10 requests are version 1.`)
  return csr
}

/**
 * Checks a CSR for `expectedHandle`, in this order: it parses; its key is accepted by `policy`;
 * its signature verifies with its own key (proof of possession); its subject CN is exactly the
 * handle and a requested SAN, when present, is exactly rfc822Name = the handle.
 */
export const verifyCsr = (
  csrDer: Uint8Array,
  expectedHandle: Handle,
  policy: KeyPolicy = defaultKeyPolicy
): Effect.Effect<CheckedCsr, CaError> =>
  caTry("BadCsr", "The CSR is not a readable PKCS#10 request.", () => {
    const csr = parseCsr(csrDer)
    const { key, algorithm } = classifyKey(new Uint8Array(csr.subjectPublicKeyInfo.toSchema().toBER(false)), policy)
    const spki = canonicalSpki(csr.subjectPublicKeyInfo, algorithm)

    const digest = digestFor(csr.signatureAlgorithm.algorithmId, algorithm)
    if (digest === undefined) {
      return fail(
        "CsrSignature",
        `The CSR's signature algorithm ${csr.signatureAlgorithm.algorithmId} does not fit its ${algorithm} key.`
      )
    }
    const signature = csr.signatureValue.valueBlock
    const ok =
      signature.unusedBits === 0 &&
      (() => {
        try {
          return nodeCrypto.verify(digest, csr.tbsView, key, signature.valueHexView)
        } catch {
          return false
        }
      })()
    if (!ok)
      return fail("CsrSignature", "The CSR's signature does not verify with its own key (no proof of possession).")

    const cns = X.nameValues(csr.subject, Oid.commonName)
    if (cns.length !== 1 || cns[0] !== expectedHandle) {
      return fail("CsrHandleMismatch", `The CSR must name ${expectedHandle} as its only common name (CN).`)
    }
    const altNames = requestedAltNames(csr)
    if (altNames !== undefined && !altNames.every((n) => n.type === 1 && n.value === expectedHandle)) {
      return fail("CsrHandleMismatch", `The CSR's subjectAltName must be exactly the email ${expectedHandle}.`)
    }
    return { spki, handle: expectedHandle, algorithm }
  })

/**
 * A CSR for `handle` signed with `pkcs8` (ECDSA P-256 with SHA-256, or Ed25519): subject CN = handle
 * and an extensionRequest for SAN rfc822Name = handle (PROTOCOL.md §13 profile).
 */
export const createCsr = (params: {
  readonly handle: Handle
  readonly pkcs8: Uint8Array
}): Effect.Effect<Uint8Array, CaError> =>
  caTry("Internal", "Could not create the CSR.", () => {
    let key: nodeCrypto.KeyObject
    try {
      key = X.importPkcs8(params.pkcs8)
    } catch (cause) {
      return fail("KeyPolicy", "The private key is not a readable PKCS#8 key.", cause)
    }
    const isEd25519 = key.asymmetricKeyType === "ed25519"
    if (!isEd25519 && !(key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")) {
      return fail("KeyPolicy", "An identity key must be ECDSA P-256 or Ed25519.")
    }
    const spkiDer = new Uint8Array(nodeCrypto.createPublicKey(key).export({ format: "der", type: "spki" }))
    const san = X.subjectAltName([{ type: "email", value: params.handle }])
    const csr = new pkijs.CertificationRequest({
      version: 0,
      subject: X.distinguishedName([[Oid.commonName, params.handle]]),
      subjectPublicKeyInfo: X.parseSpki(spkiDer),
      attributes: [
        new pkijs.Attribute({
          type: Oid.extensionRequest,
          values: [new pkijs.Extensions({ extensions: [san] }).toSchema()]
        })
      ],
      signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: isEd25519 ? Oid.ed25519 : Oid.ecdsaWithSha256 })
    })
    const signature = nodeCrypto.sign(isEd25519 ? null : "sha256", X.encodeTbs(csr), key)
    csr.signatureValue = new asn1js.BitString({ valueHex: X.toArrayBuffer(new Uint8Array(signature)) })
    return new Uint8Array(csr.toSchema().toBER(false))
  })
