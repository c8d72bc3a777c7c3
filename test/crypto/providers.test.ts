/**
 * Both providers behave the same: what one seals the other opens, what one signs the other
 * verifies, and they refuse the same inputs. Inputs come from a seeded Entropy, so a failure
 * reproduces.
 */
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import type { CryptoSuite } from "../../src/domain/crypto/primitives.js"
import * as NobleCrypto from "../../src/layers/crypto/NobleCrypto.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"
import { seededService } from "../../src/layers/EntropyLive.js"
import { toHex } from "./wycheproof.js"

const node = NodeCrypto.suite
const noble = NobleCrypto.suite
const pairs: ReadonlyArray<[string, CryptoSuite, CryptoSuite]> = [
  ["node -> noble", node, noble],
  ["noble -> node", noble, node]
]
const entropy = seededService("providers.test")
const bytes = (n: number) => entropy.bytes(n)
const der = (b: Buffer) => new Uint8Array(b)

describe("X25519 across providers", () => {
  it("derives the same public key and shared secret from the same secrets", () => {
    for (let i = 0; i < 8; i++) {
      const a = bytes(32)
      const b = bytes(32)
      const [na, nb, ba, bb] = [
        node.keyExchange.fromSecret(a),
        node.keyExchange.fromSecret(b),
        noble.keyExchange.fromSecret(a),
        noble.keyExchange.fromSecret(b)
      ]
      expect(toHex(na.publicKey)).toBe(toHex(ba.publicKey))
      const shared = toHex(na.agree(nb.publicKey))
      expect(shared).toMatch(/^[0-9a-f]{64}$/)
      expect(toHex(ba.agree(nb.publicKey))).toBe(shared)
      expect(toHex(bb.agree(na.publicKey))).toBe(shared)
      expect(toHex(nb.agree(ba.publicKey))).toBe(shared)
    }
  })

  it.each([node, noble])("RFC 7748 section 6.1 ($keyExchange.provider)", ({ keyExchange }) => {
    const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"))
    const alice = keyExchange.fromSecret(hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    const bob = keyExchange.fromSecret(hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
    expect(toHex(alice.publicKey)).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    expect(toHex(bob.publicKey)).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    expect(toHex(alice.agree(bob.publicKey))).toBe(shared)
    expect(toHex(bob.agree(alice.publicKey))).toBe(shared)
    // The public key has a buffer of its own (nothing else readable through `.buffer`).
    expect(alice.publicKey.buffer.byteLength).toBe(32)
  })

  it.each([node, noble])("refuses malformed input ($keyExchange.provider)", ({ keyExchange }) => {
    const pair = keyExchange.fromSecret(bytes(32))
    expect(pair.agree(new Uint8Array(31))).toBe(null)
    expect(pair.agree(new Uint8Array(33))).toBe(null)
    expect(pair.agree(new Uint8Array(32))).toBe(null) // u = 0: low order
    expect(pair.agree(Uint8Array.of(1, ...new Uint8Array(31)))).toBe(null) // u = 1: low order
    expect(() => keyExchange.fromSecret(new Uint8Array(31))).toThrow(RangeError)
  })
})

describe("AES-256-GCM across providers", () => {
  it.each(pairs)("%s: what one seals the other opens", (_name, sealer, opener) => {
    for (const size of [0, 1, 15, 16, 17, 64, 16 * 1024, 64 * 1024 + 255]) {
      const key = bytes(32)
      const nonce = bytes(12)
      const aad = bytes(4)
      const plaintext = bytes(size)
      const sealed = sealer.aead.importKey(key).seal(nonce, plaintext, aad)
      expect(sealed.length).toBe(size + 16)
      expect(toHex(opener.aead.importKey(key).seal(nonce, plaintext, aad))).toBe(toHex(sealed))
      expect(toHex(opener.aead.importKey(key).open(nonce, sealed, aad))).toBe(toHex(plaintext))
    }
  })

  it.each([node, noble])("refuses tampering and bad sizes ($hashing.provider)", ({ aead }) => {
    const key = bytes(32)
    const k = aead.importKey(key)
    key.fill(0) // the imported key is a copy
    const nonce = bytes(12)
    const aad = bytes(4)
    const sealed = k.seal(nonce, bytes(100), aad)
    expect(k.open(nonce, sealed, aad)).not.toBe(null)
    for (const at of [0, 50, 99, 100, 115]) {
      const bad = Uint8Array.from(sealed)
      bad[at]! ^= 0x01
      expect(k.open(nonce, bad, aad)).toBe(null)
    }
    expect(k.open(nonce, sealed, Uint8Array.of(1, 2, 3, 4))).toBe(null)
    expect(k.open(bytes(12), sealed, aad)).toBe(null)
    expect(k.open(nonce, sealed.subarray(0, 15), aad)).toBe(null)
    expect(k.open(nonce, sealed.subarray(0, sealed.length - 1), aad)).toBe(null)
    expect(aead.importKey(new Uint8Array(32)).open(nonce, sealed, aad)).toBe(null)
    expect(() => k.seal(new Uint8Array(16), new Uint8Array(1), aad)).toThrow(RangeError)
    expect(() => aead.importKey(new Uint8Array(16))).toThrow(RangeError)
  })
})

describe("Hashing across providers", () => {
  it("agrees on SHA-256, HMAC and HKDF", () => {
    for (const size of [0, 1, 55, 56, 64, 1000]) {
      const data = bytes(size)
      const key = bytes(size % 70)
      expect(toHex(node.hashing.sha256(data))).toBe(toHex(noble.hashing.sha256(data)))
      expect(toHex(node.hashing.sha256(data))).toBe(crypto.createHash("sha256").update(data).digest("hex"))
      expect(toHex(node.hashing.hmacSha256(key, data))).toBe(toHex(noble.hashing.hmacSha256(key, data)))
      const prk = node.hashing.hkdfExtract(key, data)
      expect(toHex(noble.hashing.hkdfExtract(key, data))).toBe(toHex(prk))
      expect(toHex(node.hashing.hkdfExpand(prk, key, size))).toBe(toHex(noble.hashing.hkdfExpand(prk, key, size)))
    }
  })

  it.each([node, noble])("snapshots the transcript hash without ending it ($hashing.provider)", ({ hashing }) => {
    const parts = [bytes(10), bytes(0), bytes(100), bytes(3)]
    const state = hashing.sha256State()
    const seen: Array<Uint8Array> = []
    for (const part of parts) {
      state.update(part)
      seen.push(part)
      expect(toHex(state.snapshot())).toBe(toHex(hashing.sha256(Buffer.concat(seen))))
    }
    expect(toHex(state.snapshot())).toBe(toHex(state.snapshot()))
  })

  it.each([node, noble])("bounds HKDF-Expand's length ($hashing.provider)", ({ hashing }) => {
    const prk = bytes(32)
    expect(hashing.hkdfExpand(prk, new Uint8Array(0), 255 * 32).length).toBe(255 * 32)
    expect(hashing.hkdfExpand(prk, new Uint8Array(0), 0).length).toBe(0)
    for (const bad of [255 * 32 + 1, -1, 1.5, Number.NaN]) {
      expect(() => hashing.hkdfExpand(prk, new Uint8Array(0), bad)).toThrow(RangeError)
    }
  })
})

const ecKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const edKey = crypto.generateKeyPairSync("ed25519")
const keys = [
  ["ecdsa-p256-sha256", der(ecKey.privateKey.export({ type: "pkcs8", format: "der" }))],
  ["ed25519", der(edKey.privateKey.export({ type: "pkcs8", format: "der" }))]
] as const

describe("Signatures across providers", () => {
  it.each(pairs)("%s: a signature verifies under the other provider", (_name, signer, verifier) => {
    for (const [algorithm, pkcs8] of keys) {
      const key = signer.signatures.importPrivateKey(pkcs8)!
      expect(key.algorithm).toBe(algorithm)
      expect(toHex(verifier.signatures.importPrivateKey(pkcs8)!.spki)).toBe(toHex(key.spki))
      const publicKey = verifier.signatures.importPublicKey(key.spki)!
      expect(publicKey.algorithm).toBe(algorithm)
      const message = bytes(77)
      const signature = key.sign(message)
      expect(signature.length).toBe(64)
      expect(publicKey.verify(message, signature)).toBe(true)
      expect(publicKey.verify(bytes(77), signature)).toBe(false)
      expect(publicKey.verify(message, signature.subarray(0, 63))).toBe(false)
      const flipped = Uint8Array.from(signature)
      flipped[10]! ^= 0x80
      expect(publicKey.verify(message, flipped)).toBe(false)
    }
  })

  it("matches OpenSSL's own SPKI and DER signatures", () => {
    const ecSpki = der(ecKey.publicKey.export({ type: "spki", format: "der" }))
    const edSpki = der(edKey.publicKey.export({ type: "spki", format: "der" }))
    const message = bytes(40)
    const derSignature = der(crypto.sign("sha256", message, { key: ecKey.privateKey, dsaEncoding: "der" }))
    for (const suite of [node, noble]) {
      expect(toHex(suite.signatures.importPrivateKey(keys[0][1])!.spki)).toBe(toHex(ecSpki))
      expect(toHex(suite.signatures.importPrivateKey(keys[1][1])!.spki)).toBe(toHex(edSpki))
      expect(suite.signatures.verifyEcdsaP256Der(ecSpki, message, derSignature)).toBe(true)
      expect(suite.signatures.verifyEcdsaP256Der(ecSpki, bytes(40), derSignature)).toBe(false)
      expect(suite.signatures.verifyEcdsaP256Der(edSpki, message, derSignature)).toBe(false)
    }
  })

  it.each([node, noble])("refuses keys it does not support ($hashing.provider)", ({ signatures }) => {
    const p384 = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" })
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 })
    for (const other of [p384, rsa]) {
      expect(signatures.importPrivateKey(der(other.privateKey.export({ type: "pkcs8", format: "der" })))).toBe(null)
      expect(signatures.importPublicKey(der(other.publicKey.export({ type: "spki", format: "der" })))).toBe(null)
    }
    expect(signatures.importPrivateKey(bytes(100))).toBe(null)
    expect(signatures.importPublicKey(new Uint8Array(0))).toBe(null)
    // A truncated and an extended encoding.
    const spki = der(ecKey.publicKey.export({ type: "spki", format: "der" }))
    expect(signatures.importPublicKey(spki.subarray(0, spki.length - 1))).toBe(null)
    expect(signatures.importPublicKey(Uint8Array.of(...spki, 0))).toBe(null)
    // A point that is not on the curve.
    const offCurve = Uint8Array.from(spki)
    offCurve[offCurve.length - 1]! ^= 1
    expect(signatures.importPublicKey(offCurve)).toBe(null)
  })
})
