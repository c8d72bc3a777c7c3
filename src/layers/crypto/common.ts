/**
 * Small checks shared by both crypto providers, so that node:crypto and noble accept and refuse
 * exactly the same inputs, and a `Layer` built from a provider's suite.
 */
import { Layer } from "effect"
import type * as P from "../../domain/crypto/primitives.js"
import { Aead, Hashing, KeyExchange, Signer } from "../../services/Crypto.js"

/** RFC 5869 section 2.3: L <= 255 * HashLen. A larger request is a programming error. */
export const HKDF_SHA256_MAX = 255 * 32

export const checkExpandLength = (length: number): void => {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX) {
    throw new RangeError(`HKDF-Expand-SHA256 length must be an integer in 0..${HKDF_SHA256_MAX}, got ${length}`)
  }
}

export const checkAeadKey = (key: Uint8Array): void => {
  if (key.length !== 32) throw new RangeError(`AES-256-GCM takes a 32-byte key, got ${key.length} bytes`)
}

export const checkNonce = (nonce: Uint8Array): void => {
  if (nonce.length !== 12) throw new RangeError(`AES-256-GCM takes a 12-byte nonce, got ${nonce.length} bytes`)
}

export const checkX25519Secret = (secret: Uint8Array): void => {
  if (secret.length !== 32) throw new RangeError(`X25519 takes a 32-byte secret, got ${secret.length} bytes`)
}

/** Constant-time over the whole input: an all-zero X25519 output means a low-order peer point. */
export const isAllZero = (bytes: Uint8Array): boolean => {
  let acc = 0
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!
  return acc === 0
}

/** Constant-time equality of two byte strings (lengths are public). */
export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let acc = 0
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!
  return acc === 0
}

/** Provides the four crypto ports from one provider's suite. */
export const layerFromSuite = (suite: P.CryptoSuite): Layer.Layer<Hashing | Aead | KeyExchange | Signer> =>
  Layer.mergeAll(
    Layer.succeed(Hashing, suite.hashing),
    Layer.succeed(Aead, suite.aead),
    Layer.succeed(KeyExchange, suite.keyExchange),
    Layer.succeed(Signer, suite.signatures)
  )
