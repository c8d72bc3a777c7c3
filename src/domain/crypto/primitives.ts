/**
 * The shapes of the cryptographic primitives SixChat uses. Pure interfaces: the domain computes
 * with values of these types and never chooses a provider. Implementations live in
 * `src/layers/crypto/*` (node:crypto and noble); ports that hand them out live in `src/services`.
 *
 * Every function here is synchronous and allocation-light because the record layer calls them
 * once per frame. Failures that are data (a tag that does not authenticate, a low-order point)
 * are `null` / `false`; only programming errors throw.
 */

export type ProviderName = "node" | "noble"

/** An incremental SHA-256 whose state can be snapshotted (the transcript hash needs prefixes). */
export interface Sha256State {
  readonly update: (data: Uint8Array) => void
  /** Digest of everything so far; the state stays usable. */
  readonly snapshot: () => Uint8Array
}

export interface Hashing {
  readonly provider: ProviderName
  readonly sha256: (data: Uint8Array) => Uint8Array
  readonly sha256State: () => Sha256State
  readonly hmacSha256: (key: Uint8Array, data: Uint8Array) => Uint8Array
  /** RFC 5869 HKDF-Extract with SHA-256 (an empty salt means 32 zero bytes). */
  readonly hkdfExtract: (salt: Uint8Array, ikm: Uint8Array) => Uint8Array
  /** RFC 5869 HKDF-Expand with SHA-256; `length <= 255 * 32`. */
  readonly hkdfExpand: (prk: Uint8Array, info: Uint8Array, length: number) => Uint8Array
}

/** AES-256-GCM with a 32-byte key, 12-byte nonce and 16-byte tag appended to the ciphertext. */
export interface AeadKey {
  readonly seal: (nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) => Uint8Array
  /**
   * `null` when the tag does not authenticate (or the input is shorter than a tag). The plaintext is
   * fresh memory, never a view of `sealed`: the record layer reuses the buffer `sealed` lies in.
   */
  readonly open: (nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array) => Uint8Array | null
}

export interface Aead {
  readonly provider: ProviderName
  readonly keyLength: 32
  readonly nonceLength: 12
  readonly tagLength: 16
  readonly importKey: (key: Uint8Array) => AeadKey
}

export interface X25519KeyPair {
  /** Raw 32-byte u-coordinate. */
  readonly publicKey: Uint8Array
  /** Raw 32-byte shared secret; `null` for an invalid peer key or an all-zero result (low-order point). */
  readonly agree: (peerPublicKey: Uint8Array) => Uint8Array | null
}

export interface KeyExchange {
  readonly provider: ProviderName
  /** Builds a key pair from 32 secret bytes drawn from `Entropy` (clamping is the primitive's business). */
  readonly fromSecret: (secret: Uint8Array) => X25519KeyPair
}

export type SignatureAlgorithm = "ecdsa-p256-sha256" | "ed25519"

export interface SigningKey {
  readonly algorithm: SignatureAlgorithm
  /** ECDSA: raw 64-byte r||s (IEEE P1363); Ed25519: 64 bytes. */
  readonly sign: (message: Uint8Array) => Uint8Array
  /** DER SubjectPublicKeyInfo of the matching public key. */
  readonly spki: Uint8Array
}

export interface VerifyKey {
  readonly algorithm: SignatureAlgorithm
  readonly verify: (message: Uint8Array, signature: Uint8Array) => boolean
}

export interface Signatures {
  readonly provider: ProviderName
  /** From an unencrypted PKCS#8 DER private key (P-256 or Ed25519); `null` when unsupported or malformed. */
  readonly importPrivateKey: (pkcs8: Uint8Array) => SigningKey | null
  /** From a DER SubjectPublicKeyInfo; `null` when unsupported or malformed. */
  readonly importPublicKey: (spki: Uint8Array) => VerifyKey | null
  /** ECDSA P-256 with a DER-encoded signature (X.509 style); used by vectors and certificate code. */
  readonly verifyEcdsaP256Der: (spki: Uint8Array, message: Uint8Array, derSignature: Uint8Array) => boolean
}

/** Every primitive of one provider, as the handshake and record layer consume them. */
export interface CryptoSuite {
  readonly hashing: Hashing
  readonly aead: Aead
  readonly keyExchange: KeyExchange
  readonly signatures: Signatures
}
