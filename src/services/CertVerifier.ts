/**
 * CertVerifier: builds and checks a peer's chain against the configured trust anchors (PROTOCOL.md §13).
 */
import { Context, type Effect } from "effect"
import type { CertError, VerifiedCertificate, VerifyRequest } from "../domain/cert/verify.js"

export interface CertVerifierService {
  readonly verify: (request: VerifyRequest) => Effect.Effect<VerifiedCertificate, CertError>
}

export class CertVerifier extends Context.Tag("sixchat/CertVerifier")<CertVerifier, CertVerifierService>() {}
