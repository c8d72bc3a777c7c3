/**
 * The end state of a handshake: the verification code is derived from the exporter when first read
 * (issue 15: most sessions never show it), and is the one the key schedule defines.
 */
import { describe, expect, it } from "vitest"
import { applicationSecrets, verificationCode } from "../../src/domain/channel/keySchedule.js"
import { Transcript } from "../../src/domain/channel/transcript.js"
import type { Hashing } from "../../src/domain/crypto/primitives.js"
import { establish } from "../../src/domain/handshake/established.js"
import type { PeerAuthenticated } from "../../src/domain/handshake/peerAuth.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"

/** node:crypto's hashing, counting HKDF-Expand calls. */
const counting = () => {
  const h = NodeCrypto.hashing
  const calls = { expand: 0 }
  const hashing: Hashing = {
    ...h,
    hkdfExpand: (prk, info, length) => {
      calls.expand++
      return h.hkdfExpand(prk, info, length)
    }
  }
  return { hashing, calls }
}

describe("establish", () => {
  it("derives the verification code when it is first read, once, equal to the key schedule's", () => {
    const { hashing, calls } = counting()
    const master = new Uint8Array(32).fill(7)
    const transcript = new Transcript(hashing).add(new Uint8Array([1, 2, 3]))
    const peer = {} as PeerAuthenticated
    const established = establish(hashing, master, transcript, "initiator", "1", "s", peer)
    const afterEstablish = calls.expand
    const code = established.verificationCode
    expect(calls.expand).toBe(afterEstablish + 1)
    expect(established.verificationCode).toBe(code)
    expect(calls.expand).toBe(afterEstablish + 1)
    const app = applicationSecrets(
      NodeCrypto.hashing,
      master,
      new Transcript(hashing).add(new Uint8Array([1, 2, 3])).hash()
    )
    expect(established.exporter).toEqual(app.exporter)
    expect(code).toBe(verificationCode(NodeCrypto.hashing, app.exporter))
  })
})
