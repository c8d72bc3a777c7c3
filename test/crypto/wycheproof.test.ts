/**
 * Every Wycheproof vector through the project's own wrappers, for both providers: a valid vector
 * must succeed, an invalid one must fail, an acceptable one may go either way without throwing.
 * Each test collects the failing tcIds so a regression names the vectors it broke.
 */
import { describe, expect, it } from "vitest"
import type { CryptoSuite } from "../../src/domain/crypto/primitives.js"
import * as NobleCrypto from "../../src/layers/crypto/NobleCrypto.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"
import {
  type AeadGroup,
  allTests,
  type HkdfGroup,
  hex,
  loadVectors,
  toHex,
  type VerifyGroup,
  type XdhGroup
} from "./wycheproof.js"

const x25519 = loadVectors<XdhGroup>("x25519_test.json")
const aesGcm = loadVectors<AeadGroup>("aes_gcm_test.json")
const hkdf = loadVectors<HkdfGroup>("hkdf_sha256_test.json")
const ecdsaDer = loadVectors<VerifyGroup>("ecdsa_secp256r1_sha256_test.json")
const ecdsaP1363 = loadVectors<VerifyGroup>("ecdsa_secp256r1_sha256_p1363_test.json")
const ed25519 = loadVectors<VerifyGroup>("ed25519_test.json")

const isZero = (h: string) => /^0+$/.test(h)

/** Runs `check` on every test; returns the tcIds whose check did not hold or threw. */
const failures = <T>(cases: ReadonlyArray<T>, id: (c: T) => number, check: (c: T) => boolean): Array<number> => {
  const bad: Array<number> = []
  for (const c of cases) {
    let ok: boolean
    try {
      ok = check(c)
    } catch {
      ok = false
    }
    if (!ok) bad.push(id(c))
  }
  return bad
}

const byId = ({ test }: { readonly test: { readonly tcId: number } }) => test.tcId

describe.each<[string, CryptoSuite]>([
  ["node", NodeCrypto.suite],
  ["noble", NobleCrypto.suite]
])("Wycheproof through the %s provider", (_name, suite) => {
  it("x25519: valid shared secrets match; zero results and failures are null", () => {
    const cases = allTests(x25519)
    expect(cases.length).toBe(x25519.numberOfTests)
    let acceptedAcceptable = 0
    const bad = failures(cases, byId, ({ test }) => {
      const shared = suite.keyExchange.fromSecret(hex(test.private)).agree(hex(test.public))
      if (test.result === "valid") return toHex(shared) === test.shared
      // PROTOCOL.md §6.3 step 2: an all-zero shared secret is refused, whatever the vector allows.
      if (isZero(test.shared)) return shared === null
      if (shared !== null) acceptedAcceptable++
      return shared === null || toHex(shared) === test.shared
    })
    expect(bad).toEqual([])
    // The zero-result vectors exist and are all among the refused ones.
    const zero = cases.filter(({ test }) => isZero(test.shared))
    expect(zero.length).toBeGreaterThan(0)
    for (const { test } of zero)
      expect(suite.keyExchange.fromSecret(hex(test.private)).agree(hex(test.public))).toBe(null)
    expect(acceptedAcceptable).toBeGreaterThan(0)
  })

  it("aes-gcm: every 256-bit key / 96-bit nonce / 128-bit tag vector; other sizes are refused", () => {
    const cases = allTests(aesGcm)
    expect(cases.length).toBe(aesGcm.numberOfTests)
    const ours = cases.filter(({ group }) => group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128)
    expect(ours.length).toBeGreaterThan(0)
    expect(ours.some(({ test }) => test.result === "invalid")).toBe(true)
    const bad = failures(ours, byId, ({ test }) => {
      const key = suite.aead.importKey(hex(test.key))
      const sealed = hex(test.ct + test.tag)
      const opened = key.open(hex(test.iv), sealed, hex(test.aad))
      if (test.result === "invalid") return opened === null
      return (
        toHex(key.seal(hex(test.iv), hex(test.msg), hex(test.aad))) === test.ct + test.tag && toHex(opened) === test.msg
      )
    })
    expect(bad).toEqual([])
    // The wrapper takes only AES-256 with 12-byte nonces: every other vector is a RangeError.
    for (const { group, test } of cases) {
      if (group.keySize !== 256) expect(() => suite.aead.importKey(hex(test.key))).toThrow(RangeError)
      else if (group.ivSize !== 96) {
        const key = suite.aead.importKey(hex(test.key))
        expect(() => key.open(hex(test.iv), hex(test.ct + test.tag), hex(test.aad))).toThrow(RangeError)
        expect(() => key.seal(hex(test.iv), hex(test.msg), hex(test.aad))).toThrow(RangeError)
      }
    }
  })

  it("hkdf-sha256: extract + expand match; an output too large is a RangeError", () => {
    const cases = allTests(hkdf)
    expect(cases.length).toBe(hkdf.numberOfTests)
    const { hashing } = suite
    const bad = failures(cases, byId, ({ test }) => {
      const prk = hashing.hkdfExtract(hex(test.salt), hex(test.ikm))
      if (test.result === "invalid") {
        try {
          hashing.hkdfExpand(prk, hex(test.info), test.size)
          return false
        } catch (e) {
          return e instanceof RangeError
        }
      }
      return toHex(hashing.hkdfExpand(prk, hex(test.info), test.size)) === test.okm
    })
    expect(bad).toEqual([])
    expect(cases.filter(({ test }) => test.result === "invalid").length).toBeGreaterThan(0)
  })

  it("ecdsa p-256 sha-256, DER signatures via verifyEcdsaP256Der", () => {
    const cases = allTests(ecdsaDer)
    expect(cases.length).toBe(ecdsaDer.numberOfTests)
    const bad = failures(
      cases,
      byId,
      ({ group, test }) =>
        suite.signatures.verifyEcdsaP256Der(hex(group.publicKeyDer), hex(test.msg), hex(test.sig)) ===
        (test.result === "valid")
    )
    expect(bad).toEqual([])
  })

  it("ecdsa p-256 sha-256, P1363 signatures via importPublicKey(spki).verify", () => {
    const cases = allTests(ecdsaP1363)
    expect(cases.length).toBe(ecdsaP1363.numberOfTests)
    const bad = failures(cases, byId, ({ group, test }) => {
      const key = suite.signatures.importPublicKey(hex(group.publicKeyDer))
      if (key === null || key.algorithm !== "ecdsa-p256-sha256") return false
      return key.verify(hex(test.msg), hex(test.sig)) === (test.result === "valid")
    })
    expect(bad).toEqual([])
  })

  it("ed25519 via importPublicKey(spki).verify", () => {
    const cases = allTests(ed25519)
    expect(cases.length).toBe(ed25519.numberOfTests)
    const bad = failures(cases, byId, ({ group, test }) => {
      const key = suite.signatures.importPublicKey(hex(group.publicKeyDer))
      const ok = key !== null && key.algorithm === "ed25519" && key.verify(hex(test.msg), hex(test.sig))
      return ok === (test.result === "valid")
    })
    expect(bad).toEqual([])
  })
})
