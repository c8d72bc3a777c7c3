/**
 * A `CertVerifier` decorated with a revocation source that changes while the program runs (the IRP
 * server's live view of its registry, the revocations an agent learns from its IRP): the verifier of the
 * context checks the chain, then every certificate of the built path below the anchor is asked about, as
 * `domain/cert/validate.ts` asks a source given at construction (PROTOCOL.md §13).
 *
 * It wraps whatever verifier the composition supplies (a mock included) instead of constructing one.
 */
import { Effect } from "effect"
import { parseCertificate } from "../domain/cert/parse.js"
import { CertError, type RevocationSource } from "../domain/cert/verify.js"
import type { CertVerifierService } from "../services/CertVerifier.js"

export const revocationChecked = (verifier: CertVerifierService, source: RevocationSource): CertVerifierService => ({
  verify: (request) =>
    Effect.flatMap(verifier.verify(request), (verified) => {
      for (let i = 0; i + 1 < verified.path.length; i++) {
        const parsed = parseCertificate(verified.path[i]!)
        if (parsed._tag !== "Parsed") continue // the verifier read it already; a mock's path is its own
        const serial = parsed.certificate.serial
        if (source.isRevoked(verified.path[i + 1]!, serial))
          return Effect.fail(
            new CertError({
              reason: "Revoked",
              message: `The certificate with serial ${serial} has been revoked by its issuer.`,
              depth: i
            })
          )
      }
      return Effect.succeed(verified)
    })
})
