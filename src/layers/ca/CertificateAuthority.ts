/**
 * The online certificate authority of an IRP server: the issuing CA of a loaded domain directory,
 * issuing client certificates (`Enroll`, `Renew`) and CRLs (`Crl`) with time from the Clock and
 * serial numbers from `Entropy` (IRP issue section 1, PROTOCOL.md §13).
 *
 */
import * as nodeCrypto from "node:crypto"
import { Clock, Effect, Layer } from "effect"
import type { Handle } from "../../domain/brands.js"
import { certificateIdentity } from "../../domain/cert/identity.js"
import { DEFAULT_STAPLE_LIFETIME_SECONDS, encodeStaple, stapleToBeSigned } from "../../domain/cert/staple.js"
import type { CrlEntry } from "../../domain/pki/crl.js"
import type { CaError } from "../../domain/pki/errors.js"
import { SERIAL_BYTES, serialFromEntropy } from "../../domain/pki/profile.js"
import { Entropy } from "../../services/Entropy.js"
import { issueClientCertificate } from "./certificates.js"
import { createCrl } from "./crl.js"
import { type LoadedDomain, loadDomain } from "./DomainDirectory.js"

export {
  CertificateAuthority,
  type CertificateAuthorityService
} from "../../services/CertificateAuthority.js"

import { CertificateAuthority, type CertificateAuthorityService } from "../../services/CertificateAuthority.js"

export const make = (domain: LoadedDomain): Effect.Effect<CertificateAuthorityService, never, Entropy> =>
  Effect.gen(function* () {
    const entropy = yield* Entropy
    const { config, issuer } = domain
    const now = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))
    const stapleLifetimeMs = (config.stapleLifetimeSeconds ?? DEFAULT_STAPLE_LIFETIME_SECONDS) * 1000
    // §13.6.1 "issuer": the SHA-256 of the issuing CA's SPKI (loadIssuer has parsed it already).
    const issuerHash = certificateIdentity(issuer.certificateDer)?.fingerprint ?? ""
    return CertificateAuthority.of({
      domain: config.domain,
      trustAnchor: domain.rootCertificate,
      issueClient: Effect.fn("CertificateAuthority.issueClient")(function* (csrDer: Uint8Array, handle: Handle) {
        return yield* issueClientCertificate({
          csrDer,
          handle,
          issuer,
          now: yield* now,
          serial: serialFromEntropy(entropy.bytes(SERIAL_BYTES)),
          validityDays: config.clientValidityDays,
          validitySeconds: config.clientValiditySeconds
        })
      }),
      crl: Effect.fn("CertificateAuthority.crl")(function* (entries: ReadonlyArray<CrlEntry>, crlNumber: bigint) {
        const thisUpdate = yield* now
        return yield* createCrl({
          issuer,
          entries,
          thisUpdate,
          nextUpdate: new Date(thisUpdate.getTime() + config.crlValidityHours * 3_600_000),
          crlNumber
        })
      }),
      signStatus: Effect.fn("CertificateAuthority.signStatus")(function* (input) {
        const thisUpdate = yield* Clock.currentTimeMillis
        const tbs = stapleToBeSigned({
          serial: input.serial,
          handle: input.handle.toLowerCase(),
          issuer: issuerHash,
          thisUpdate,
          nextUpdate: Math.min(thisUpdate + stapleLifetimeMs, input.notAfter)
        })
        const signature = nodeCrypto.sign("sha256", tbs, { key: issuer.key, dsaEncoding: "ieee-p1363" })
        return encodeStaple(tbs, new Uint8Array(signature))
      })
    })
  })

/** Loads DIR (see `DomainDirectory.loadDomain`); fails with `CaError` when it is missing or damaged. */
export const layer = (dir: string): Layer.Layer<CertificateAuthority, CaError, Entropy> =>
  Layer.effect(CertificateAuthority, Effect.flatMap(loadDomain(dir), make))
