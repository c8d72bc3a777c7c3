/**
 * The safety number (PROTOCOL.md sections 10.1 and 19.3): order independence, a change with either
 * key or handle, the published vector, and agreement with an independent computation (node:crypto's
 * SHA-512 rather than @noble/hashes).
 */
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  groupSafetyNumber,
  SAFETY_NUMBER_ITERATIONS,
  type SafetyIdentity,
  safetyHalf,
  safetyNumber,
  safetyNumberQrText
} from "../../../src/domain/agent/safetyNumber.js"

const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"))
/** Ed25519 SPKIs around the public keys of RFC 8032 section 7.1 tests 1 and 2. */
const alice: SafetyIdentity = {
  spki: hex("302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
  handle: "alice@example.org"
}
const bob: SafetyIdentity = {
  spki: hex("302a300506032b65700321003d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
  handle: "bob@example.org"
}

/** The derivation of section 10.1, written again from the text with node:crypto. */
const independentHalf = (id: SafetyIdentity): string => {
  let d: Buffer = createHash("sha512")
    .update(Buffer.from([0, 1]))
    .update(id.spki)
    .update(id.handle.toLowerCase(), "utf8")
    .digest()
  for (let i = 1; i < SAFETY_NUMBER_ITERATIONS; i++) d = createHash("sha512").update(d).update(id.spki).digest()
  let out = ""
  for (let c = 0; c < 6; c++) out += String(Number(d.readUIntBE(c * 5, 5) % 100000)).padStart(5, "0")
  return out
}

describe("safety number", () => {
  it("matches the vector of PROTOCOL.md section 19.3", () => {
    expect(safetyHalf(alice)).toBe(VECTOR.alice)
    expect(safetyHalf(bob)).toBe(VECTOR.bob)
    expect(groupSafetyNumber(safetyNumber(alice, bob))).toBe(VECTOR.grouped)
  })

  it("agrees with an independent computation, and with a native hash passed in (as the agent does)", () => {
    expect(safetyHalf(alice)).toBe(independentHalf(alice))
    expect(safetyHalf(bob)).toBe(independentHalf(bob))
    const native = (data: Uint8Array) => new Uint8Array(createHash("sha512").update(data).digest())
    expect(safetyHalf(alice, native)).toBe(VECTOR.alice)
  })

  it("is the same from both sides", () => {
    expect(safetyNumber(alice, bob)).toBe(safetyNumber(bob, alice))
    expect(safetyNumber(alice, bob)).toMatch(/^\d{60}$/)
  })

  it("changes when either key or handle changes", () => {
    const base = safetyNumber(alice, bob)
    const otherKey = Uint8Array.from(bob.spki)
    otherKey[otherKey.length - 1] = (otherKey[otherKey.length - 1] ?? 0) ^ 1
    expect(safetyNumber(alice, { ...bob, spki: otherKey })).not.toBe(base)
    const aliceKey = Uint8Array.from(alice.spki)
    aliceKey[20] = (aliceKey[20] ?? 0) ^ 0x80
    expect(safetyNumber({ ...alice, spki: aliceKey }, bob)).not.toBe(base)
    expect(safetyNumber(alice, { ...bob, handle: "carol@example.org" })).not.toBe(base)
    // Handles compare case-insensitively, so the number does too.
    expect(safetyNumber(alice, { ...bob, handle: "Bob@Example.org" })).toBe(base)
  })

  it("groups into 12 groups of 5 and names its QR payload", () => {
    const grouped = groupSafetyNumber(safetyNumber(alice, bob))
    expect(grouped.split(" ")).toHaveLength(12)
    expect(grouped.split(" ").every((g) => /^\d{5}$/.test(g))).toBe(true)
    expect(safetyNumberQrText(safetyNumber(alice, bob))).toBe(`SIXCHAT-SN1:${safetyNumber(alice, bob)}`)
  })
})

const VECTOR = {
  alice: "934412882401432766570761837275",
  bob: "814543648987734396565518503306",
  grouped: "81454 36489 87734 39656 55185 03306 93441 28824 01432 76657 07618 37275"
}
