/**
 * The DER key reader that gates both providers, and the key encodings it must accept
 * (PKCS#8 with or without the public point, compressed SPKI points) or refuse.
 */
import * as crypto from "node:crypto"
import { describe, expect, it } from "vitest"
import { parsePkcs8, parseSpki, spkiP256 } from "../../src/layers/crypto/der.js"
import * as NobleCrypto from "../../src/layers/crypto/NobleCrypto.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"
import { seededService } from "../../src/layers/EntropyLive.js"
import { hex, toHex } from "./wycheproof.js"

const suites = [NodeCrypto.suite, NobleCrypto.suite]
const entropy = seededService("der.test")

const ecdh = (scalar: Uint8Array) => {
  const e = crypto.createECDH("prime256v1")
  e.setPrivateKey(scalar)
  return new Uint8Array(e.getPublicKey())
}

/** A DER TLV in hex (definite, minimal length). */
const tlv = (tag: string, content: string): string => {
  const n = content.length / 2
  const length = n < 0x80 ? n.toString(16).padStart(2, "0") : `81${n.toString(16).padStart(2, "0")}`
  return `${tag}${length}${content}`
}

/** RFC 5208 PrivateKeyInfo around an RFC 5915 ECPrivateKey, with an optional [1] publicKey. */
const ecPkcs8 = (scalar: Uint8Array, point?: Uint8Array): Uint8Array => {
  const pub = point === undefined ? "" : tlv("a1", tlv("03", `00${toHex(point)}`))
  const ecPrivateKey = tlv("30", `020101${tlv("04", toHex(scalar)!)}${pub}`)
  const algorithm = "301306072a8648ce3d020106082a8648ce3d030107"
  return hex(tlv("30", `020100${algorithm}${tlv("04", ecPrivateKey)}`))
}

const scalar = () => {
  const s = entropy.bytes(32)
  s[0] = 0x01 // well below the group order
  return s
}

describe("PKCS#8 P-256 keys", () => {
  it.each(suites)("imports a key with and without its public point ($hashing.provider)", ({ signatures }) => {
    const d = scalar()
    const point = ecdh(d)
    for (const pkcs8 of [ecPkcs8(d), ecPkcs8(d, point)]) {
      const key = signatures.importPrivateKey(pkcs8)
      expect(key).not.toBe(null)
      expect(toHex(key!.spki)).toBe(toHex(spkiP256(point)))
      const message = entropy.bytes(20)
      expect(signatures.importPublicKey(key!.spki)!.verify(message, key!.sign(message))).toBe(true)
    }
  })

  it.each(suites)("refuses a public point that does not match the scalar ($hashing.provider)", ({ signatures }) => {
    const mismatched = ecPkcs8(scalar(), ecdh(scalar()))
    expect(parsePkcs8(mismatched)).not.toBe(null) // well-formed: refused for the mismatch alone
    expect(signatures.importPrivateKey(mismatched)).toBe(null)
  })

  it.each(suites)("refuses a zero scalar ($hashing.provider)", ({ signatures }) => {
    expect(signatures.importPrivateKey(ecPkcs8(new Uint8Array(32)))).toBe(null)
  })

  it("reads the fields", () => {
    const d = scalar()
    const info = parsePkcs8(ecPkcs8(d, ecdh(d)))
    expect(info?.algorithm).toBe("p256")
    if (info?.algorithm === "p256") {
      expect(toHex(info.secretKey)).toBe(toHex(d))
      expect(toHex(info.point ?? null)).toBe(toHex(ecdh(d)))
    }
  })
})

describe("SubjectPublicKeyInfo", () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }))

  it.each(suites)("imports a compressed P-256 point ($hashing.provider)", ({ signatures }) => {
    const compressed = new Uint8Array(
      crypto.ECDH.convertKey(spki.subarray(-65), "prime256v1", undefined, undefined, "compressed") as Buffer
    )
    const compressedSpki = hex(`3039301306072a8648ce3d020106082a8648ce3d030107032200${toHex(compressed)}`)
    const message = entropy.bytes(30)
    const signature = new Uint8Array(crypto.sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" }))
    expect(signatures.importPublicKey(compressedSpki)!.verify(message, signature)).toBe(true)
  })

  it("refuses non-DER encodings", () => {
    expect(parseSpki(spki)?.algorithm).toBe("p256")
    // The same structure with a long-form outer length (BER, not DER).
    expect(parseSpki(Uint8Array.of(0x30, 0x81, ...spki.subarray(1)))).toBe(null)
    // Indefinite length.
    expect(parseSpki(Uint8Array.of(0x30, 0x80, ...spki.subarray(2), 0, 0))).toBe(null)
    // Non-zero unused-bits byte in the BIT STRING.
    const unused = Uint8Array.from(spki)
    unused[spki.length - 66] = 1
    expect(parseSpki(unused)).toBe(null)
    // Ed25519 with parameters present (RFC 8410 section 3 forbids them).
    expect(parseSpki(hex(`302c300706032b65700500032100${"11".repeat(32)}`))).toBe(null)
    expect(parseSpki(hex(`302a300506032b6570032100${"11".repeat(32)}`))?.algorithm).toBe("ed25519")
  })
})
