/**
 * Issuing X.509 v3 certificates per the domain profile (PROTOCOL.md §13; see `domain/pki/profile`).
 * Time and serial numbers come in as values, so callers draw them from the Clock and `Entropy`.
 */
import type * as nodeCrypto from "node:crypto"
import { Effect } from "effect"
import * as pkijs from "pkijs"
import type { Handle } from "../../domain/brands.js"
import { CaError } from "../../domain/pki/errors.js"
import { Oid } from "../../domain/pki/oids.js"
import * as Profile from "../../domain/pki/profile.js"
import type { IssuedCertificate } from "../../services/CertificateAuthority.js"
import { verifyCsr } from "./csr.js"
import { caTry, importCaKey, importCaKeyPair, type KeyPair, spkiOfPrivateKey } from "./keys.js"
import * as X from "./pkix.js"

/** A CA ready to sign: its certificate, key and what follows a leaf it signs on the wire. */
export interface Issuer {
  readonly certificateDer: Uint8Array
  readonly certificate: pkijs.Certificate
  readonly key: nodeCrypto.KeyObject
  /** Its subject key identifier: the AKI of what it signs. */
  readonly keyId: Uint8Array
  readonly notAfter: Date
  /** Certificates sent after a leaf it signs: itself unless it is a self-signed root (the relying party has that). */
  readonly chain: ReadonlyArray<Uint8Array>
  /** The domain whose handles it may certify. */
  readonly domain: string
}

export type { IssuedCertificate } from "../../services/CertificateAuthority.js"

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

/** Loads a CA from its certificate and PKCS#8 key, checking it is a CA and that the key matches. */
export const loadIssuer = (params: {
  readonly certificateDer: Uint8Array
  readonly pkcs8: Uint8Array
  readonly domain: string
}): Effect.Effect<Issuer, CaError> =>
  caTry("Internal", "The CA certificate could not be loaded.", () => {
    const certificate = X.parseCertificate(params.certificateDer)
    const key = importCaKey(params.pkcs8, "CA key")
    const certSpki = new Uint8Array(certificate.subjectPublicKeyInfo.toSchema().toBER(false))
    if (!bytesEqual(certSpki, spkiOfPrivateKey(key))) {
      throw new CaError({ reason: "KeyPolicy", message: "The CA key does not belong to the CA certificate." })
    }
    const bc = certificate.extensions?.find((e) => e.extnID === Oid.basicConstraints)?.parsedValue
    if (!(bc instanceof pkijs.BasicConstraints) || !bc.cA) {
      throw new CaError({ reason: "KeyPolicy", message: "The CA certificate lacks basicConstraints cA=TRUE." })
    }
    const ski = X.extensionValue(certificate.extensions, Oid.subjectKeyIdentifier)
    const keyId = ski !== undefined ? X.octetStringValue(ski) : X.keyIdentifier(certificate.subjectPublicKeyInfo)
    const selfSigned = bytesEqual(X.nameDer(certificate.subject), X.nameDer(certificate.issuer))
    return {
      certificateDer: params.certificateDer,
      certificate,
      key,
      keyId,
      notAfter: certificate.notAfter.value,
      chain: selfSigned ? [] : [params.certificateDer],
      domain: params.domain
    }
  })

interface Spec {
  readonly serial: Uint8Array
  readonly subject: pkijs.RelativeDistinguishedNames
  readonly spki: pkijs.PublicKeyInfo
  readonly validity: Profile.Validity
  readonly extensions: ReadonlyArray<pkijs.Extension>
}

/** Encodes a v3 certificate and signs it ecdsa-with-SHA256 with the issuer's key. */
const sign = (spec: Spec, issuerName: pkijs.RelativeDistinguishedNames, key: nodeCrypto.KeyObject): Uint8Array => {
  const serial = Profile.normalizeSerial(spec.serial)
  if (serial === undefined) {
    throw new CaError({ reason: "BadParameter", message: "A serial number must be positive and at most 20 octets." })
  }
  const cert = new pkijs.Certificate({
    version: 2,
    serialNumber: X.integer(serial),
    signature: X.ecdsaWithSha256(),
    issuer: issuerName,
    notBefore: X.certTime(spec.validity.notBefore),
    notAfter: X.certTime(spec.validity.notAfter),
    subject: spec.subject,
    subjectPublicKeyInfo: spec.spki,
    extensions: [...spec.extensions],
    signatureAlgorithm: X.ecdsaWithSha256()
  })
  return X.signAndEncode(cert, key)
}

const window = (now: Date, days: number, cap: Date | undefined): Profile.Validity => {
  if (!Profile.isValidityDays(days)) {
    throw new CaError({ reason: "BadParameter", message: `A validity of ${days} days is out of range (1 to 36500).` })
  }
  const validity = Profile.validityWindow({ now, days, cap })
  if (validity === undefined) {
    throw new CaError({ reason: "Internal", message: "The issuing CA has expired: create a new issuing CA." })
  }
  return validity
}

/** A validity of `seconds` (at least 30), capped by the issuer's. */
const secondsWindow = (now: Date, seconds: number, cap: Date): Profile.Validity => {
  if (!Number.isInteger(seconds) || seconds < 30) {
    throw new CaError({ reason: "BadParameter", message: `A validity of ${seconds} s is out of range (30 s or more).` })
  }
  const validity = Profile.validityWindow({ now, days: seconds / 86_400, cap })
  if (validity === undefined) {
    throw new CaError({ reason: "Internal", message: "The issuing CA has expired: create a new issuing CA." })
  }
  return validity
}

const issuedBy = (issuer: Issuer, spec: Spec): IssuedCertificate => {
  const leaf = sign(spec, issuer.certificate.subject, issuer.key)
  return {
    chain: [leaf, ...issuer.chain],
    serial: Profile.serialHex(Profile.normalizeSerial(spec.serial)!),
    notBefore: spec.validity.notBefore,
    notAfter: spec.validity.notAfter,
    spki: new Uint8Array(spec.spki.toSchema().toBER(false))
  }
}

/** The self-signed root of a domain: pathLen 1 and name constraints limited to the domain (and its server names). */
export const createRootCa = (params: {
  readonly domain: string
  readonly key: KeyPair
  readonly now: Date
  readonly serial: Uint8Array
  readonly validityDays?: number | undefined
  readonly serverNames?: ReadonlyArray<string> | undefined
}): Effect.Effect<Uint8Array, CaError> =>
  caTry("Internal", "Could not create the root CA certificate.", () => {
    if (!Profile.isDomainName(params.domain)) {
      throw new CaError({
        reason: "BadParameter",
        message: `"${params.domain}" is not a domain name; give a lower-case DNS name such as example.org.`
      })
    }
    const key = importCaKeyPair(params.key, "root key")
    const spki = X.parseSpki(params.key.spki)
    const keyId = X.keyIdentifier(spki)
    const name = X.distinguishedName([
      [Oid.organizationName, params.domain],
      [Oid.commonName, Profile.rootCaName(params.domain)]
    ])
    const permitted = Profile.permittedNames(params.domain, params.serverNames ?? [])
    return sign(
      {
        serial: params.serial,
        subject: name,
        spki,
        validity: window(params.now, params.validityDays ?? Profile.ROOT_VALIDITY_DAYS, undefined),
        extensions: [
          X.basicConstraints(true, Profile.ROOT_PATH_LEN),
          X.keyUsage(["keyCertSign", "cRLSign"]),
          X.subjectKeyIdentifier(keyId),
          X.nameConstraints([
            ...permitted.rfc822.map((value) => ({ type: "email" as const, value })),
            ...permitted.dns.map((value) => ({ type: "dns" as const, value }))
          ])
        ]
      },
      name,
      key
    )
  })

/** The issuing CA (the IRP server's online key), signed by the root: pathLen 0. */
export const createIssuingCa = (params: {
  readonly key: KeyPair
  readonly issuer: Issuer
  readonly now: Date
  readonly serial: Uint8Array
  readonly validityDays?: number | undefined
}): Effect.Effect<Uint8Array, CaError> =>
  caTry("Internal", "Could not create the issuing CA certificate.", () => {
    importCaKeyPair(params.key, "issuing CA key")
    const spki = X.parseSpki(params.key.spki)
    const domain = params.issuer.domain
    const issued = issuedBy(params.issuer, {
      serial: params.serial,
      subject: X.distinguishedName([
        [Oid.organizationName, domain],
        [Oid.commonName, Profile.issuingCaName(domain)]
      ]),
      spki,
      validity: window(params.now, params.validityDays ?? Profile.ISSUING_VALIDITY_DAYS, params.issuer.notAfter),
      extensions: [
        X.basicConstraints(true, Profile.ISSUING_PATH_LEN),
        X.keyUsage(["keyCertSign", "cRLSign"]),
        X.subjectKeyIdentifier(X.keyIdentifier(spki)),
        X.authorityKeyIdentifier(params.issuer.keyId)
      ]
    })
    return issued.chain[0]!
  })

/** The IRP server's certificate: CN = first server name, SAN dNSName = every server name, EKU serverAuth. */
export const createServerCertificate = (params: {
  readonly spki: Uint8Array
  readonly serverNames: ReadonlyArray<string>
  readonly issuer: Issuer
  readonly now: Date
  readonly serial: Uint8Array
  readonly validityDays?: number | undefined
}): Effect.Effect<IssuedCertificate, CaError> =>
  caTry("Internal", "Could not create the server certificate.", () => {
    const bad = params.serverNames.find((n) => !Profile.isDomainName(n))
    if (params.serverNames.length === 0 || bad !== undefined) {
      throw new CaError({
        reason: "BadParameter",
        message: `"${bad ?? ""}" is not a DNS name for the server certificate.`
      })
    }
    const spki = X.parseSpki(params.spki)
    return issuedBy(params.issuer, {
      serial: params.serial,
      subject: X.distinguishedName([[Oid.commonName, params.serverNames[0]!]]),
      spki,
      validity: window(params.now, params.validityDays ?? Profile.SERVER_VALIDITY_DAYS, params.issuer.notAfter),
      extensions: [
        X.basicConstraints(false),
        X.keyUsage(["digitalSignature"]),
        X.extKeyUsage([Oid.serverAuth]),
        X.subjectAltName(params.serverNames.map((value) => ({ type: "dns" as const, value }))),
        X.subjectKeyIdentifier(X.keyIdentifier(spki)),
        X.authorityKeyIdentifier(params.issuer.keyId)
      ]
    })
  })

/**
 * A client certificate for `handle` from a CSR (IRP `Enroll` / `Renew`): the CSR is checked first
 * (proof of possession, names, key policy: `verifyCsr`), and the handle must belong to the issuer's
 * domain. Only the CSR's public key is used; its subject and requested extensions are ignored.
 */
export const issueClientCertificate = (params: {
  readonly csrDer: Uint8Array
  readonly handle: Handle
  readonly issuer: Issuer
  readonly now: Date
  readonly serial: Uint8Array
  readonly validityDays?: number | undefined
  /** Overrides `validityDays` (irp.json `clientValiditySeconds`). */
  readonly validitySeconds?: number | undefined
  readonly keyPolicy?: Profile.KeyPolicy | undefined
}): Effect.Effect<IssuedCertificate, CaError> =>
  Effect.gen(function* () {
    if (!Profile.handleInDomain(params.handle, params.issuer.domain)) {
      return yield* new CaError({
        reason: "CsrHandleMismatch",
        message: `${params.handle} is not a handle of ${params.issuer.domain}; this CA certifies only its own domain.`
      })
    }
    const csr = yield* verifyCsr(params.csrDer, params.handle, params.keyPolicy)
    return yield* caTry("Internal", "Could not issue the client certificate.", () => {
      const spki = X.parseSpki(csr.spki)
      return issuedBy(params.issuer, {
        serial: params.serial,
        subject: X.distinguishedName([[Oid.commonName, params.handle]]),
        spki,
        validity:
          params.validitySeconds === undefined
            ? window(params.now, params.validityDays ?? Profile.CLIENT_VALIDITY_DAYS, params.issuer.notAfter)
            : secondsWindow(params.now, params.validitySeconds, params.issuer.notAfter),
        extensions: [
          X.basicConstraints(false),
          X.keyUsage(["digitalSignature"]),
          X.extKeyUsage([Oid.clientAuth]),
          X.subjectAltName([{ type: "email", value: params.handle }]),
          X.subjectKeyIdentifier(X.keyIdentifier(spki)),
          X.authorityKeyIdentifier(params.issuer.keyId)
        ]
      })
    })
  })
