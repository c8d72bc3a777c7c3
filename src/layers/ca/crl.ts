/**
 * X.509 v2 CRLs signed by the issuing CA (RFC 5280 section 5): the IRP `Crl` answer. Carries the
 * authorityKeyIdentifier and cRLNumber extensions (both MUST in 5.2) and, per entry, a reasonCode
 * unless the reason is unspecified.
 */
import type { Effect } from "effect"
import * as pkijs from "pkijs"
import { type CrlEntry, revocationReasonCode } from "../../domain/pki/crl.js"
import { CaError } from "../../domain/pki/errors.js"
import { serialFromHex, truncateToSecond } from "../../domain/pki/profile.js"
import type { Issuer } from "./certificates.js"
import { caTry } from "./keys.js"
import * as X from "./pkix.js"

/** cRLNumber is a non-negative INTEGER of at most 20 octets that grows with each CRL (5.2.3). */
const crlNumberBytes = (n: bigint): Uint8Array => {
  if (n < 0n || n >= 1n << 159n)
    throw new CaError({ reason: "BadParameter", message: "A CRL number must be 0 to 2^159-1." })
  let hex = n.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  const bytes = new Uint8Array(Buffer.from(hex, "hex"))
  return (bytes[0]! & 0x80) !== 0 ? Uint8Array.of(0, ...bytes) : bytes
}

export const createCrl = (params: {
  readonly issuer: Issuer
  readonly entries: ReadonlyArray<CrlEntry>
  readonly thisUpdate: Date
  readonly nextUpdate: Date
  readonly crlNumber: bigint
}): Effect.Effect<Uint8Array, CaError> =>
  caTry("Internal", "Could not create the CRL.", () => {
    const thisUpdate = truncateToSecond(params.thisUpdate)
    const nextUpdate = truncateToSecond(params.nextUpdate)
    if (nextUpdate.getTime() <= thisUpdate.getTime()) {
      throw new CaError({ reason: "BadParameter", message: "A CRL's nextUpdate must come after its thisUpdate." })
    }
    const revoked = params.entries.map((entry) => {
      const serial = serialFromHex(entry.serial)
      if (serial === undefined) {
        throw new CaError({ reason: "BadParameter", message: `"${entry.serial}" is not a certificate serial number.` })
      }
      const code = entry.reason === undefined ? 0 : revocationReasonCode[entry.reason]
      return new pkijs.RevokedCertificate({
        userCertificate: X.integer(serial),
        revocationDate: X.certTime(truncateToSecond(entry.revokedAt)),
        ...(code === 0 ? {} : { crlEntryExtensions: new pkijs.Extensions({ extensions: [X.crlReason(code)] }) })
      })
    })
    const crl = new pkijs.CertificateRevocationList({
      version: 1, // v2: it has extensions
      signature: X.ecdsaWithSha256(),
      issuer: params.issuer.certificate.subject,
      thisUpdate: X.certTime(thisUpdate),
      nextUpdate: X.certTime(nextUpdate),
      // An empty revokedCertificates list must be absent, not an empty SEQUENCE (5.1.2.6).
      ...(revoked.length === 0 ? {} : { revokedCertificates: revoked }),
      crlExtensions: new pkijs.Extensions({
        extensions: [X.authorityKeyIdentifier(params.issuer.keyId), X.crlNumber(crlNumberBytes(params.crlNumber))]
      }),
      signatureAlgorithm: X.ecdsaWithSha256()
    })
    return X.signAndEncode(crl, params.issuer.key)
  })
