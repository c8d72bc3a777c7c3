/**
 * Building our `LocalIdentity` from a PKCS#8 key and a certificate chain.
 */
import { Either } from "effect"
import type { Fingerprint } from "../brands.js"
import { hex } from "../bytes.js"
import type { CryptoSuite } from "../crypto/primitives.js"
import type { LocalIdentity } from "./parameters.js"

/** SHA-256 of a SubjectPublicKeyInfo, lower-case hex. */
export const spkiFingerprint = (crypto: CryptoSuite, spki: Uint8Array): Fingerprint =>
  hex(crypto.hashing.sha256(spki)) as Fingerprint

const contains = (haystack: Uint8Array, needle: Uint8Array): boolean => {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/**
 * The key must be ECDSA P-256 or Ed25519 and must be the leaf certificate's key (DER is canonical, so
 * the leaf embeds the key's SubjectPublicKeyInfo byte for byte).
 */
export const makeLocalIdentity = (
  crypto: CryptoSuite,
  pkcs8: Uint8Array,
  chain: ReadonlyArray<Uint8Array>
): Either.Either<LocalIdentity, string> => {
  const key = crypto.signatures.importPrivateKey(pkcs8)
  if (key === null) return Either.left("the private key is not an unencrypted PKCS#8 ECDSA P-256 or Ed25519 key")
  const leaf = chain[0]
  if (leaf === undefined) return Either.left("the certificate file holds no certificate")
  if (!contains(leaf, key.spki)) return Either.left("the private key does not match the certificate")
  return Either.right({ chain, key, fingerprint: spkiFingerprint(crypto, key.spki) })
}
