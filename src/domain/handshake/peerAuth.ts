/**
 * Authenticating the peer (PROTOCOL.md §6), the same four steps for either role:
 *
 *   AwaitCertificate -> AwaitChainCheck -> AwaitCertificateVerify -> AwaitFinished -> PeerAuthenticated
 *
 * Each state consumes itself; `AwaitCertificateVerify` can only be built from a `VerifiedCertificate`
 * (which only the CertVerifier makes), and `PeerAuthenticated` only from a verified Finished.
 */
import { Either } from "effect"
import type { Role } from "../brands.js"
import type { VerifiedCertificate } from "../cert/verify.js"
import { equalBytes, finishedMac } from "../channel/keySchedule.js"
import type { Transcript } from "../channel/transcript.js"
import type { Hashing, Signatures, VerifyKey } from "../crypto/primitives.js"
import type { Certificate, CertificateVerify, Finished } from "../e2e/messages.js"
import { fail, type HandshakeError } from "./errors.js"
import { certificateVerifyContent, isSignatureAlgorithm } from "./parameters.js"

export interface PeerAuthContext {
  readonly hashing: Hashing
  readonly signatures: Signatures
  readonly transcript: Transcript
  /** The role of the peer being authenticated (its CertificateVerify context). */
  readonly peerRole: Role
  /** The peer's handshake traffic secret (its Finished key). */
  readonly peerSecret: Uint8Array
  readonly allowAnonymous: boolean
  /** Our own leaf's SPKI fingerprint: a peer presenting it is a reflection (PROTOCOL.md §6.5 step 2). */
  readonly ownFingerprint: string | undefined
  /**
   * The signature algorithms the peer's CertificateVerify may use: for the initiator, those it offered
   * in its `<SigAlg>`s; for the responder, those it supports (PROTOCOL.md §6.5 step 3).
   */
  readonly acceptedSigAlgs: ReadonlyArray<string>
}

/**
 * Proof that the peer finished the handshake; `certificate` is `null` only for an allowed anonymous peer.
 * Only `AwaitFinished.onFinished` below makes one, after the Finished MAC matched: the class is not
 * exported (only its type) and its ES-private brand keeps an object literal from passing for it.
 */
class Authenticated {
  readonly _tag = "PeerAuthenticated" as const
  readonly #authenticated = true
  constructor(
    readonly certificate: VerifiedCertificate | null,
    /** The status the peer stapled to its Certificate (§13.6), unchecked: the UA checks it against the CA. */
    readonly staple?: Uint8Array | undefined
  ) {}
  static is(u: unknown): u is Authenticated {
    return typeof u === "object" && u !== null && #authenticated in u
  }
}

export type PeerAuthenticated = Authenticated

/** Whether `u` came out of a verified Finished (a look-alike object does not). */
export const isPeerAuthenticated = (u: unknown): u is PeerAuthenticated => Authenticated.is(u)

export class AwaitCertificate {
  readonly _tag = "AwaitCertificate"
  constructor(readonly ctx: PeerAuthContext) {}

  /** The peer's Certificate arrived: an anonymous peer skips straight to Finished. */
  onCertificate(raw: Uint8Array, message: Certificate): Either.Either<AwaitChainCheck | AwaitFinished, HandshakeError> {
    if (message.chain.length === 0) {
      if (!this.ctx.allowAnonymous)
        return Either.left(fail("AnonymousRefused", "certificate_unknown", "the peer sent no certificate"))
      this.ctx.transcript.add(raw)
      return Either.right(new AwaitFinished(this.ctx, null))
    }
    this.ctx.transcript.add(raw)
    return Either.right(new AwaitChainCheck(this.ctx, message.chain, this.ctx.transcript.hash(), message.status))
  }
}

export class AwaitChainCheck {
  readonly _tag = "AwaitChainCheck"
  constructor(
    readonly ctx: PeerAuthContext,
    /** DER, leaf first, as received: what the CertVerifier must check. */
    readonly chain: ReadonlyArray<Uint8Array>,
    /** Transcript hash through the peer's Certificate: what its CertificateVerify signs. */
    readonly signedHash: Uint8Array,
    readonly staple?: Uint8Array | undefined
  ) {}

  /** The chain verified: only now may the peer's key be used. */
  onVerified(proof: VerifiedCertificate): Either.Either<AwaitCertificateVerify, HandshakeError> {
    if (proof.fingerprint === this.ctx.ownFingerprint)
      return Either.left(fail("Reflection", "bad_certificate", "the peer presented our own certificate"))
    const key = this.ctx.signatures.importPublicKey(proof.spki)
    if (key === null)
      return Either.left(
        fail(
          "NoCommonParameters",
          "unsupported_certificate",
          "the peer's certificate key is not ECDSA P-256 or Ed25519"
        )
      )
    return Either.right(new AwaitCertificateVerify(this.ctx, proof, key, this.signedHash, this.staple))
  }
}

export class AwaitCertificateVerify {
  readonly _tag = "AwaitCertificateVerify"
  constructor(
    readonly ctx: PeerAuthContext,
    readonly proof: VerifiedCertificate,
    readonly key: VerifyKey,
    readonly signedHash: Uint8Array,
    readonly staple?: Uint8Array | undefined
  ) {}

  onCertificateVerify(raw: Uint8Array, message: CertificateVerify): Either.Either<AwaitFinished, HandshakeError> {
    // §6.5 step 3, as RFC 8446 §4.4.3: an algorithm we did not offer is illegal_parameter even when it
    // is the certificate key's own.
    if (!this.ctx.acceptedSigAlgs.includes(message.algorithm))
      return Either.left(
        fail(
          "IllegalParameter",
          "illegal_parameter",
          `CertificateVerify uses ${message.algorithm}, which was not offered`
        )
      )
    if (!isSignatureAlgorithm(message.algorithm) || message.algorithm !== this.key.algorithm)
      return Either.left(
        fail(
          "IllegalParameter",
          "illegal_parameter",
          `CertificateVerify uses ${message.algorithm}, not the certificate's key`
        )
      )
    const content = certificateVerifyContent(this.ctx.peerRole, this.signedHash)
    if (!this.key.verify(content, message.signature))
      return Either.left(
        fail("BadSignature", "decrypt_error", "the peer's CertificateVerify signature does not verify")
      )
    this.ctx.transcript.add(raw)
    return Either.right(new AwaitFinished(this.ctx, this.proof, this.staple))
  }
}

export class AwaitFinished {
  readonly _tag = "AwaitFinished"
  constructor(
    readonly ctx: PeerAuthContext,
    readonly proof: VerifiedCertificate | null,
    readonly staple?: Uint8Array | undefined
  ) {}

  onFinished(raw: Uint8Array, message: Finished): Either.Either<PeerAuthenticated, HandshakeError> {
    const expected = finishedMac(this.ctx.hashing, this.ctx.peerSecret, this.ctx.transcript.hash())
    if (!equalBytes(expected, message.mac))
      return Either.left(fail("BadFinished", "decrypt_error", "the peer's Finished does not match the transcript"))
    this.ctx.transcript.add(raw)
    return Either.right(new Authenticated(this.proof, this.staple))
  }
}
