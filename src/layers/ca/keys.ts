/**
 * Key pairs of the CA and of identities: ECDSA P-256, PKCS#8 / SPKI DER. A key comes either from
 * the operating system's CSPRNG or, deterministically, from 48 bytes the caller drew from `Entropy`
 * (so a seeded test run reproduces its keys).
 */
import * as nodeCrypto from "node:crypto"
import { p256 } from "@noble/curves/nist.js"
import { Effect } from "effect"
import { CaError } from "../../domain/pki/errors.js"
import { importPkcs8 } from "./pkix.js"

export interface KeyPair {
  /** Unencrypted PKCS#8 DER private key. Secret: never log it. */
  readonly pkcs8: Uint8Array
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array
}

/** Seed length for a deterministic P-256 key (FIPS 186-5 A.2.1: 64 extra bits make the modulo bias negligible). */
export const KEY_SEED_BYTES = 48

/** Runs `f`; a thrown `CaError` passes through, anything else becomes `reason` with `message`. */
export const caTry = <A>(reason: CaError["reason"], message: string, f: () => A): Effect.Effect<A, CaError> =>
  Effect.try({
    try: f,
    catch: (cause) => (cause instanceof CaError ? cause : new CaError({ reason, message, cause }))
  })

const view = (buf: Buffer): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)

const exportPair = (privateKey: nodeCrypto.KeyObject): KeyPair => ({
  pkcs8: view(privateKey.export({ format: "der", type: "pkcs8" })),
  spki: view(nodeCrypto.createPublicKey(privateKey).export({ format: "der", type: "spki" }))
})

/** PKCS#8 (RFC 5208) header for an ECDSA P-256 ECPrivateKey (RFC 5915) holding only the 32-byte scalar. */
const P256_PKCS8_PREFIX = Buffer.from("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420", "hex")

/**
 * The P-256 key whose scalar is derived from `seed` (48 bytes) by reduction modulo the group order.
 * OpenSSL computes the public point on import (cheaper than a first noble scalar multiplication).
 */
const fromSeed = (seed: Uint8Array): KeyPair => {
  if (seed.length !== KEY_SEED_BYTES) throw new RangeError(`a key seed is ${KEY_SEED_BYTES} bytes`)
  const d = p256.utils.randomSecretKey(seed)
  const pkcs8 = Buffer.concat([P256_PKCS8_PREFIX, d])
  return exportPair(nodeCrypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }))
}

/** A fresh ECDSA P-256 key pair: from `seed` (KEY_SEED_BYTES from `Entropy`) when given, else from the OS CSPRNG. */
export const generateKeyPair = (seed?: Uint8Array): Effect.Effect<KeyPair, CaError> =>
  caTry("Internal", "Could not generate an ECDSA P-256 key pair.", () =>
    seed === undefined
      ? exportPair(nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey)
      : fromSeed(seed)
  )

/** Imports a PKCS#8 private key, requiring ECDSA P-256 (the only key type CAs sign with). */
export const importCaKey = (pkcs8: Uint8Array, what: string): nodeCrypto.KeyObject => {
  let key: nodeCrypto.KeyObject
  try {
    key = importPkcs8(pkcs8)
  } catch (cause) {
    throw new CaError({ reason: "KeyPolicy", message: `The ${what} is not a readable PKCS#8 private key.`, cause })
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new CaError({ reason: "KeyPolicy", message: `The ${what} must be an ECDSA P-256 key.` })
  }
  return key
}

/** Imports a CA key pair, checking that its two halves belong together. */
export const importCaKeyPair = (pair: KeyPair, what: string): nodeCrypto.KeyObject => {
  const key = importCaKey(pair.pkcs8, what)
  if (!Buffer.from(spkiOfPrivateKey(key)).equals(Buffer.from(pair.spki))) {
    throw new CaError({ reason: "KeyPolicy", message: `The ${what}'s public key does not match its private key.` })
  }
  return key
}

/** The SPKI DER of a private key's public half. */
export const spkiOfPrivateKey = (key: nodeCrypto.KeyObject): Uint8Array =>
  view(nodeCrypto.createPublicKey(key).export({ format: "der", type: "spki" }))
