/**
 * What this implementation offers and accepts (PROTOCOL.md §6), and the CertificateVerify content.
 */
import type { Fingerprint, Role } from "../brands.js"
import type { CryptoSuite, SignatureAlgorithm, SigningKey } from "../crypto/primitives.js"

/** Newest first: the responder picks the first one offered (PROTOCOL.md §6.4). */
export const PROTOCOL_VERSIONS = ["1"] as const
const SUITE_AES_256_GCM_SHA256 = "AES_256_GCM_SHA256"
export const SUITES = [SUITE_AES_256_GCM_SHA256] as const
export const GROUP_X25519 = "x25519"
export const SIGNATURE_ALGORITHMS = [
  "ecdsa-p256-sha256",
  "ed25519"
] as const satisfies ReadonlyArray<SignatureAlgorithm>

export const isSignatureAlgorithm = (name: string): name is SignatureAlgorithm =>
  (SIGNATURE_ALGORITHMS as ReadonlyArray<string>).includes(name)

/** Our certificate chain (DER, leaf first) and its private key. */
export interface LocalIdentity {
  readonly chain: ReadonlyArray<Uint8Array>
  readonly key: SigningKey
  /** SHA-256 of our leaf's SPKI: a peer presenting the same key is a reflection. */
  readonly fingerprint: Fingerprint
  /**
   * Our current stapled status (PROTOCOL.md §13.6.1), read at each handshake and sent in our
   * `<Certificate>` (§5.1.3); absent or `undefined`: no `<Status>` element.
   */
  readonly staple?: (() => Uint8Array | undefined) | undefined
}

export interface HandshakeConfig {
  readonly crypto: CryptoSuite
  /** `null`: an anonymous initiator (IRP enrolment, PROTOCOL.md §14) sends an empty Certificate and no CertificateVerify. */
  readonly identity: LocalIdentity | null
  /** Responder only: accept an initiator with an empty Certificate (the IRP server). */
  readonly allowAnonymousPeer: boolean
  /**
   * Responder only (an IRP that federates, PROTOCOL.md §22.2.1): the public chain (Web PKI, `irp.<domain>`)
   * presented instead of `identity` when the offer carries `<Trust>public</Trust>` (§22.2.3).
   */
  readonly publicIdentity?: LocalIdentity | undefined
  /**
   * Initiator only (an IRP dialing an IRP of another domain, §22.2.3): ask for the responder's public
   * chain with `<Trust>public</Trust>`. A User Agent never sets it.
   */
  readonly requestPublicChain?: boolean | undefined
}

const encoder = new TextEncoder()
const CONTEXT_INITIATOR = encoder.encode("SixChat E2E1, initiator CertificateVerify")
const CONTEXT_RESPONDER = encoder.encode("SixChat E2E1, responder CertificateVerify")

/**
 * `64 x 0x20 || "SixChat E2E1, <role> CertificateVerify" || 0x00 || transcript-hash`, where the hash covers
 * every handshake message up to and including the signer's Certificate. Distinct role contexts stop reflection.
 */
export const certificateVerifyContent = (signer: Role, transcriptHash: Uint8Array): Uint8Array => {
  const context = signer === "initiator" ? CONTEXT_INITIATOR : CONTEXT_RESPONDER
  const out = new Uint8Array(64 + context.length + 1 + transcriptHash.length)
  out.fill(0x20, 0, 64)
  out.set(context, 64)
  out[64 + context.length] = 0
  out.set(transcriptHash, 65 + context.length)
  return out
}
