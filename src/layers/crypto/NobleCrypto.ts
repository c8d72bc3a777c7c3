/**
 * The pure-JS reference provider: the audited `@noble/*` libraries (v2 APIs). Slower than
 * node:crypto but independent of OpenSSL, so the test suite can check one against the other.
 *
 * Policies chosen to match OpenSSL (and Wycheproof): ECDSA verification accepts high-S
 * signatures (`lowS: false`), signs deterministically (RFC 6979); Ed25519 verification is
 * RFC 8032 strict (`zip215: false`).
 */
import { gcm } from "@noble/ciphers/aes.js"
import { ed25519, x25519 } from "@noble/curves/ed25519.js"
import { p256 } from "@noble/curves/nist.js"
import { expand, extract } from "@noble/hashes/hkdf.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect } from "effect"
import type * as P from "../../domain/crypto/primitives.js"
import {
  bytesEqual,
  checkAeadKey,
  checkExpandLength,
  checkNonce,
  checkX25519Secret,
  isAllZero,
  layerFromSuite
} from "./common.js"
import { type PublicKeyInfo, parsePkcs8, parseSpki, spkiEd25519, spkiP256 } from "./der.js"

// --- Hashing ---

const ZERO_SALT = new Uint8Array(32)

export const hashing: P.Hashing = {
  provider: "noble",
  sha256: (data) => sha256(data),
  sha256State: () => {
    const hash = sha256.create()
    return {
      update: (data) => {
        hash.update(data)
      },
      snapshot: () => hash.clone().digest()
    }
  },
  hmacSha256: (key, data) => hmac(sha256, key, data),
  // RFC 5869 section 2.2: an absent salt is HashLen zero bytes.
  hkdfExtract: (salt, ikm) => extract(sha256, ikm, salt.length === 0 ? ZERO_SALT : salt),
  hkdfExpand: (prk, info, length) => {
    checkExpandLength(length)
    return expand(sha256, prk, info, length)
  }
}

// --- AES-256-GCM ---

export const aead: P.Aead = {
  provider: "noble",
  keyLength: 32,
  nonceLength: 12,
  tagLength: 16,
  importKey: (key) => {
    checkAeadKey(key)
    const secret = Uint8Array.from(key)
    return {
      seal: (nonce, plaintext, aad) => {
        checkNonce(nonce)
        return gcm(secret, nonce, aad).encrypt(plaintext)
      },
      open: (nonce, sealed, aad) => {
        checkNonce(nonce)
        if (sealed.length < 16) return null
        try {
          return gcm(secret, nonce, aad).decrypt(sealed)
        } catch {
          return null
        }
      }
    }
  }
}

// --- X25519 ---

export const keyExchange: P.KeyExchange = {
  provider: "noble",
  fromSecret: (secret) => {
    checkX25519Secret(secret)
    const own = Uint8Array.from(secret)
    return {
      publicKey: x25519.getPublicKey(own),
      agree: (peerPublicKey) => {
        if (peerPublicKey.length !== 32) return null
        try {
          // noble throws on low-order points; PROTOCOL.md §6 refuses an all-zero secret either way.
          const shared = x25519.getSharedSecret(own, peerPublicKey)
          return isAllZero(shared) ? null : shared
        } catch {
          return null
        }
      }
    }
  }
}

// --- Signatures ---

/** Validates the key at import time: a point off the curve (or not decodable) is `null`. */
const checkedPublic = (spki: Uint8Array): PublicKeyInfo | null => {
  const info = parseSpki(spki)
  if (info === null) return null
  try {
    if (info.algorithm === "p256") p256.Point.fromBytes(info.point).assertValidity()
    else ed25519.Point.fromBytes(info.publicKey, false)
    return info
  } catch {
    return null
  }
}

const verifyP256 = (point: Uint8Array, message: Uint8Array, signature: Uint8Array, format: "compact" | "der") => {
  try {
    return p256.verify(signature, message, point, { prehash: true, lowS: false, format })
  } catch {
    return false
  }
}

export const signatures: P.Signatures = {
  provider: "noble",
  importPrivateKey: (pkcs8) => {
    const info = parsePkcs8(pkcs8)
    if (info === null) return null
    try {
      if (info.algorithm === "ed25519") {
        const seed = Uint8Array.from(info.seed)
        return {
          algorithm: "ed25519",
          spki: spkiEd25519(ed25519.getPublicKey(seed)),
          sign: (message) => ed25519.sign(message, seed)
        }
      }
      const secretKey = Uint8Array.from(info.secretKey)
      const point = p256.getPublicKey(secretKey, false)
      // A stored public point must match the scalar (the node provider refuses it likewise).
      if (info.point !== undefined && !bytesEqual(info.point, point)) return null
      return {
        algorithm: "ecdsa-p256-sha256",
        spki: spkiP256(point),
        // RFC 6979 deterministic nonce; any valid S is fine for verifiers (OpenSSL does not normalise).
        sign: (message) => p256.sign(message, secretKey, { prehash: true, format: "compact" })
      }
    } catch {
      // Scalar out of range, and the like.
      return null
    }
  },
  importPublicKey: (spki) => {
    const info = checkedPublic(spki)
    if (info === null) return null
    if (info.algorithm === "ed25519") {
      const publicKey = Uint8Array.from(info.publicKey)
      return {
        algorithm: "ed25519",
        verify: (message, signature) => {
          if (signature.length !== 64) return false
          try {
            return ed25519.verify(signature, message, publicKey, { zip215: false })
          } catch {
            return false
          }
        }
      }
    }
    const point = Uint8Array.from(info.point)
    return {
      algorithm: "ecdsa-p256-sha256",
      verify: (message, signature) => signature.length === 64 && verifyP256(point, message, signature, "compact")
    }
  },
  verifyEcdsaP256Der: (spki, message, derSignature) => {
    const info = checkedPublic(spki)
    return info !== null && info.algorithm === "p256" && verifyP256(info.point, message, derSignature, "der")
  }
}

export const suite: P.CryptoSuite = { hashing, aead, keyExchange, signatures }

export const make: Effect.Effect<P.CryptoSuite> = Effect.succeed(suite)

export const layer = layerFromSuite(suite)
