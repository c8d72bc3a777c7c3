/**
 * The default crypto provider: node:crypto (OpenSSL). Every primitive is synchronous and returns
 * plain `Uint8Array` views (never pooled `Buffer`s a caller could misread through `.buffer`), except
 * `sealPrefixed`'s small frames and `sealParts`' parts, which go straight to the transport (see there).
 *
 * Measured on Node 20 / OpenSSL 3.0 and the reason for each shape below:
 * - our X25519 public key is read from the private key's JWK export (`x`, which OpenSSL derives
 *   from the secret): ~2 µs against ~37 µs for X25519(secret, 9). An early note here said exporting
 *   fresh X25519 keys as JWK in a loop deadlocked the process; on Node 20.20.2 / OpenSSL 3.0.19,
 *   150,000 imports, exports and agreements in a loop ran clean and every exported `x` equalled
 *   X25519(secret, 9) (issue 15). The scalar multiplication stays as the fallback;
 * - peer public keys are imported from JWK, which is much cheaper than from DER, and kept in a small
 *   LRU keyed by the SPKI bytes: an EC import costs about as much as a verify (~70 µs, OpenSSL checks
 *   the point), and peers reconnect with the same certificate key (issue 15). A `KeyObject` is
 *   immutable and a pure function of those bytes, so a cached one verifies exactly as a fresh one;
 * - an AES key becomes a `KeyObject` once per `importKey`, then one cipher per record (Node offers
 *   no way to re-key a cipher context with a new nonce).
 */
import * as crypto from "node:crypto"
import { Effect } from "effect"
import type { PrefixedSealer } from "../../domain/channel/record.js"
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
import { parsePkcs8, parseSpki } from "./der.js"

/** A plain `Uint8Array` over a Buffer's bytes (no copy). */
const view = (buf: Buffer): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset, buf.length)

const b64url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url")

const spkiOf = (key: crypto.KeyObject): Uint8Array => view(key.export({ type: "spki", format: "der" }))

// --- Hashing (SHA-256, HMAC, RFC 5869 HKDF) ---

const sha256 = (data: Uint8Array): Uint8Array => view(crypto.createHash("sha256").update(data).digest())

const hmacSha256 = (key: Uint8Array, data: Uint8Array): Uint8Array =>
  view(crypto.createHmac("sha256", key).update(data).digest())

const ZERO_SALT = new Uint8Array(32)
const COUNTER_ONE = Uint8Array.of(1)

export const hashing: P.Hashing = {
  provider: "node",
  sha256,
  sha256State: () => {
    const hash = crypto.createHash("sha256")
    return {
      update: (data) => {
        hash.update(data)
      },
      snapshot: () => view(hash.copy().digest())
    }
  },
  hmacSha256,
  // RFC 5869 section 2.2: an absent salt is HashLen zero bytes.
  hkdfExtract: (salt, ikm) => hmacSha256(salt.length === 0 ? ZERO_SALT : salt, ikm),
  hkdfExpand: (prk, info, length) => {
    checkExpandLength(length)
    // RFC 5869 section 2.3: T(i) = HMAC(PRK, T(i-1) || info || i). The key schedule only ever asks
    // for one block (<= 32 bytes): that is one HMAC, returned without a copy.
    const first = crypto.createHmac("sha256", prk).update(info).update(COUNTER_ONE).digest()
    if (length <= 32) return view(first).subarray(0, length)
    const out = new Uint8Array(length)
    const counter = new Uint8Array(1)
    let previous: Uint8Array = first
    out.set(first, 0)
    for (let offset = 32, i = 2; offset < length; offset += 32, i++) {
      counter[0] = i
      previous = crypto.createHmac("sha256", prk).update(previous).update(info).update(counter).digest()
      out.set(previous.subarray(0, Math.min(32, length - offset)), offset)
    }
    return out
  }
}

// --- AES-256-GCM ---

const TRAILER = new Uint8Array(1)
/** Records up to this size (frame bytes) are sealed via SCRATCH into a pooled buffer. */
const SMALL_RECORD = 2048
const SCRATCH = new Uint8Array(SMALL_RECORD)
const DECIPHER_OPTIONS = { authTagLength: 16 } as const

/**
 * Node's cipher API gives every `update` fresh output memory from malloc (for AES-GCM two blocks of
 * it, the second zero-filled and copied into: Node 20 shrinks the output by one byte), and a socket
 * read gets a fresh 64 KiB too, so a channel that carries data allocates and frees ~2 MiB of malloc
 * memory per MiB on each side. glibc gives freed memory back to the kernel once more than its trim
 * threshold (128 KiB by default) lies free at the top of the heap, which is what happens after each
 * garbage collection frees a batch of records; the next records then take a page fault per 4 KiB, and
 * in a virtual machine each costs tens of microseconds (measured: 29 % of the CPU of a loop of 64 KiB
 * AES-GCM updates was page faults, 20 k to 70 k faults per 640 MiB; issue 15, docs/BENCHMARKS.md).
 *
 * glibc raises its thresholds by itself when a block it had mapped for one large allocation is
 * freed (mmap threshold to that block's size, trim threshold to twice it; at most 32 MiB and 64 MiB),
 * and keeps them for the process's life. One unused buffer of `KEEP_FREED_BYTES`, allocated when the
 * process first seals or opens a large record (`LARGE_RECORD`) and freed by the next garbage
 * collection, sets them: freed memory up to twice that stays in the heap for the next records. Not
 * on the first key: a process that only holds idle connections and exchanges messages keeps giving
 * freed memory back (measured: the idle connection pair's RSS rose from ~75-100 to ~140-160 KiB when
 * every process did it). Elsewhere than glibc it is one short-lived allocation whose pages are never
 * touched. The same as `MALLOC_TRIM_THRESHOLD_`, which a library cannot set.
 */
const KEEP_FREED_BYTES = 16 * 1024 * 1024
/** Records of this many bytes or more are data, not messages (see `keepFreedMemory`). */
const LARGE_RECORD = 16 * 1024
let keepingFreedMemory = false
const keepFreedMemory = (): void => {
  keepingFreedMemory = true
  Buffer.allocUnsafeSlow(KEEP_FREED_BYTES)
}

export const aead: P.Aead = {
  provider: "node",
  keyLength: 32,
  nonceLength: 12,
  tagLength: 16,
  importKey: (key) => {
    checkAeadKey(key)
    const secret = crypto.createSecretKey(key)
    const sealer: P.AeadKey & PrefixedSealer = {
      // The record layer's path: prefix || ciphertext || tag in one buffer, the ciphertext copied once.
      // Small records (messages) go through a scratch buffer, one cipher call and a buffer from
      // Node's pool: each separately allocated buffer costs an ArrayBuffer backing store, which
      // showed in the per-message profile. Big ones (data) are not copied first.
      sealPrefixed: (nonce, prefix, content, trailer) => {
        checkNonce(nonce)
        const n = content.length + 1
        const size = prefix.length + n + 16
        const out = size <= SMALL_RECORD ? Buffer.allocUnsafe(size) : Buffer.allocUnsafeSlow(size)
        out.set(prefix, 0)
        const cipher = crypto.createCipheriv("aes-256-gcm", secret, nonce)
        cipher.setAAD(prefix)
        if (size <= SMALL_RECORD) {
          SCRATCH.set(content, 0)
          SCRATCH[content.length] = trailer
          out.set(cipher.update(SCRATCH.subarray(0, n)), prefix.length)
        } else {
          out.set(cipher.update(content), prefix.length)
          TRAILER[0] = trailer
          out[prefix.length + n - 1] = cipher.update(TRAILER)[0]!
        }
        cipher.final()
        out.set(cipher.getAuthTag(), prefix.length + n)
        // The Buffer itself (a Uint8Array): it goes to the transport, whose socket takes Buffers as they are.
        return out
      },
      // Data records: the cipher's output goes to the transport as it is, between a copy of the prefix
      // and the last byte's ciphertext with the tag, both in one small pooled buffer. A separate output
      // buffer cost a 64 KiB allocation (fresh pages, page faults) and a 64 KiB copy per record.
      sealParts: (nonce, prefix, content, trailer) => {
        checkNonce(nonce)
        if (!keepingFreedMemory && content.length >= LARGE_RECORD) keepFreedMemory()
        const cipher = crypto.createCipheriv("aes-256-gcm", secret, nonce)
        cipher.setAAD(prefix)
        const body = cipher.update(content)
        TRAILER[0] = trailer
        const edges = Buffer.allocUnsafe(prefix.length + 17)
        edges.set(prefix, 0)
        edges[prefix.length] = cipher.update(TRAILER)[0]!
        cipher.final()
        edges.set(cipher.getAuthTag(), prefix.length + 1)
        return [edges.subarray(0, prefix.length), body, edges.subarray(prefix.length)]
      },
      seal: (nonce, plaintext, aad) => {
        checkNonce(nonce)
        const cipher = crypto.createCipheriv("aes-256-gcm", secret, nonce)
        cipher.setAAD(aad)
        const ciphertext = cipher.update(plaintext)
        cipher.final()
        // One unpooled, unzeroed output buffer: ciphertext || tag.
        const out = Buffer.allocUnsafeSlow(ciphertext.length + 16)
        out.set(ciphertext, 0)
        out.set(cipher.getAuthTag(), ciphertext.length)
        return view(out)
      },
      open: (nonce, sealed, aad) => {
        checkNonce(nonce)
        if (sealed.length < 16) return null
        if (!keepingFreedMemory && sealed.length >= LARGE_RECORD) keepFreedMemory()
        const split = sealed.length - 16
        const decipher = crypto.createDecipheriv("aes-256-gcm", secret, nonce, DECIPHER_OPTIONS)
        decipher.setAAD(aad)
        decipher.setAuthTag(sealed.subarray(split))
        const plaintext = decipher.update(sealed.subarray(0, split))
        try {
          decipher.final()
        } catch {
          return null
        }
        return view(plaintext)
      }
    }
    return sealer
  }
}

// --- X25519 (RFC 7748) ---

const importX25519Public = (raw: Uint8Array): crypto.KeyObject =>
  crypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64url(raw) }, format: "jwk" })

/** The X25519 base point u = 9 (RFC 7748 section 4.1). */
const X25519_BASE_POINT = importX25519Public(Uint8Array.of(9, ...new Array<number>(31).fill(0)))

/** Our public key: `x` of the private key's JWK (see the module comment), else X25519(secret, 9). */
const x25519PublicOf = (privateKey: crypto.KeyObject): Uint8Array => {
  const x = privateKey.export({ format: "jwk" }).x
  const exported = x === undefined ? undefined : Buffer.from(x, "base64url")
  // A copy: `Buffer.from` of a short string lands in Node's shared pool (see the module comment).
  if (exported !== undefined && exported.length === 32) return new Uint8Array(exported)
  return view(crypto.diffieHellman({ privateKey, publicKey: X25519_BASE_POINT }))
}

export const keyExchange: P.KeyExchange = {
  provider: "node",
  fromSecret: (secret) => {
    checkX25519Secret(secret)
    // JWK import takes the 32 secret bytes as they are (OpenSSL clamps); `x` is ignored.
    const privateKey = crypto.createPrivateKey({
      key: { kty: "OKP", crv: "X25519", d: b64url(secret), x: "AAAA" },
      format: "jwk"
    })
    const publicKey = x25519PublicOf(privateKey)
    return {
      publicKey,
      agree: (peerPublicKey) => {
        if (peerPublicKey.length !== 32) return null
        try {
          const shared = crypto.diffieHellman({ privateKey, publicKey: importX25519Public(peerPublicKey) })
          // PROTOCOL.md §6.3 step 2, §6.4 step 3: an all-zero shared secret (low-order peer point) is refused.
          // OpenSSL already fails the derivation then; the check keeps the rule explicit.
          return isAllZero(shared) ? null : view(shared)
        } catch {
          return null
        }
      }
    }
  }
}

// --- Signatures: ECDSA P-256 with SHA-256, Ed25519 ---

type NodePublicKey = { readonly algorithm: P.SignatureAlgorithm; readonly key: crypto.KeyObject }

/** Imported peer keys by SPKI (base64): a tiny LRU over a Map, whose iteration order is insertion order. */
const PUBLIC_KEY_CACHE_SIZE = 256
const publicKeys = new Map<string, NodePublicKey>()

/** Imports a P-256 or Ed25519 SPKI once while it stays among the last 256 used (see the module comment). */
const importNodePublic = (spki: Uint8Array): NodePublicKey | null => {
  const id = Buffer.from(spki.buffer, spki.byteOffset, spki.length).toString("base64")
  const hit = publicKeys.get(id)
  if (hit !== undefined) {
    publicKeys.delete(id)
    publicKeys.set(id, hit)
    return hit
  }
  const fresh = importNodePublicUncached(spki)
  if (fresh === null) return null
  publicKeys.set(id, fresh)
  if (publicKeys.size > PUBLIC_KEY_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value!)
  return fresh
}

/** Imports a P-256 or Ed25519 SPKI, through JWK where possible (the fast path). */
const importNodePublicUncached = (spki: Uint8Array): NodePublicKey | null => {
  const info = parseSpki(spki)
  if (info === null) return null
  try {
    if (info.algorithm === "ed25519") {
      const key = crypto.createPublicKey({
        key: { kty: "OKP", crv: "Ed25519", x: b64url(info.publicKey) },
        format: "jwk"
      })
      return { algorithm: "ed25519", key }
    }
    const p = info.point
    const key =
      p[0] === 0x04
        ? crypto.createPublicKey({
            key: { kty: "EC", crv: "P-256", x: b64url(p.subarray(1, 33)), y: b64url(p.subarray(33)) },
            format: "jwk"
          })
        : crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" })
    return { algorithm: "ecdsa-p256-sha256", key }
  } catch {
    // Not on the curve, or otherwise refused by OpenSSL.
    return null
  }
}

const verifyWith = (
  { algorithm, key }: NodePublicKey,
  message: Uint8Array,
  signature: Uint8Array,
  dsaEncoding: "der" | "ieee-p1363"
): boolean => {
  try {
    return algorithm === "ed25519"
      ? crypto.verify(null, message, key, signature)
      : crypto.verify("sha256", message, { key, dsaEncoding }, signature)
  } catch {
    return false
  }
}

export const signatures: P.Signatures = {
  provider: "node",
  importPrivateKey: (pkcs8) => {
    // The shared DER reader gates the input so that both providers accept the same keys.
    const info = parsePkcs8(pkcs8)
    if (info === null) return null
    try {
      const key = crypto.createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" })
      if (info.algorithm === "ed25519") {
        return {
          algorithm: "ed25519",
          spki: spkiOf(crypto.createPublicKey(key)),
          sign: (message) => view(crypto.sign(null, message, key))
        }
      }
      // OpenSSL would export a stored public point as is; refuse one that does not match the scalar.
      const derived = crypto.createECDH("prime256v1")
      derived.setPrivateKey(info.secretKey)
      const point = derived.getPublicKey()
      if (info.point !== undefined && !bytesEqual(info.point, point)) return null
      const spki = spkiOf(crypto.createPublicKey(key))
      if (!bytesEqual(spki.subarray(-65), point)) return null
      return {
        algorithm: "ecdsa-p256-sha256",
        spki,
        sign: (message) => view(crypto.sign("sha256", message, { key, dsaEncoding: "ieee-p1363" }))
      }
    } catch {
      return null
    }
  },
  importPublicKey: (spki) => {
    const imported = importNodePublic(spki)
    if (imported === null) return null
    return {
      algorithm: imported.algorithm,
      // Both algorithms sign with exactly 64 bytes (r||s, or R||S).
      verify: (message, signature) => signature.length === 64 && verifyWith(imported, message, signature, "ieee-p1363")
    }
  },
  verifyEcdsaP256Der: (spki, message, derSignature) => {
    const imported = importNodePublic(spki)
    return imported !== null && imported.algorithm === "ecdsa-p256-sha256"
      ? verifyWith(imported, message, derSignature, "der")
      : false
  }
}

export const suite: P.CryptoSuite = { hashing, aead, keyExchange, signatures }

export const make: Effect.Effect<P.CryptoSuite> = Effect.succeed(suite)

export const layer = layerFromSuite(suite)
