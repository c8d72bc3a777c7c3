/**
 * Key schedule (PROTOCOL.md §6) against an independent computation written here with node:crypto's
 * HMAC only (RFC 5869 by hand, RFC 8446 7.1 HkdfLabel by hand), for both providers, plus pinned vectors.
 */
import { createHash, createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  applicationSecrets,
  finishedMac,
  handshakeSecrets,
  nextTrafficSecret,
  trafficKeys,
  verificationCode
} from "../../src/domain/channel/keySchedule.js"
import * as NobleCrypto from "../../src/layers/crypto/NobleCrypto.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"

const hmac = (k: Buffer, d: Buffer) => createHmac("sha256", k).update(d).digest()
const sha = (d: Buffer | string) => createHash("sha256").update(d).digest()
const extract = (salt: Buffer, ikm: Buffer) => hmac(salt.length === 0 ? Buffer.alloc(32) : salt, ikm)
const expand = (prk: Buffer, info: Buffer, n: number) => {
  let t = Buffer.alloc(0)
  let out = Buffer.alloc(0)
  for (let i = 1; out.length < n; i++) {
    t = hmac(prk, Buffer.concat([t, info, Buffer.from([i])]))
    out = Buffer.concat([out, t])
  }
  return out.subarray(0, n)
}
const label = (l: string, ctx: Buffer, n: number) => {
  const full = Buffer.from(`sixchat1 ${l}`, "ascii")
  return Buffer.concat([Buffer.from([n >> 8, n & 0xff, full.length]), full, Buffer.from([ctx.length]), ctx])
}
const expandLabel = (s: Buffer, l: string, ctx: Buffer, n: number) => expand(s, label(l, ctx, n), n)
const derive = (s: Buffer, l: string, h: Buffer) => expandLabel(s, l, h, 32)

/** The whole schedule, independently. */
const reference = (shared: Buffer, hellos: Buffer, transcript: Buffer) => {
  const zero = Buffer.alloc(32)
  const early = extract(zero, zero)
  const hs = extract(derive(early, "derived", sha("")), shared)
  const master = extract(derive(hs, "derived", sha("")), zero)
  const iHs = derive(hs, "i hs traffic", hellos)
  const rHs = derive(hs, "r hs traffic", hellos)
  return {
    iHs,
    rHs,
    iAp: derive(master, "i ap traffic", transcript),
    rAp: derive(master, "r ap traffic", transcript),
    exporter: derive(master, "exporter", transcript),
    iKey: expandLabel(iHs, "key", Buffer.alloc(0), 32),
    iIv: expandLabel(iHs, "iv", Buffer.alloc(0), 12),
    iFinished: hmac(expandLabel(iHs, "finished", Buffer.alloc(0), 32), transcript),
    iHsNext: expandLabel(iHs, "traffic upd", Buffer.alloc(0), 32)
  }
}

const shared = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1))
const hellos = sha("IHello||RHello")
const transcript = sha("IHello..IFinished")
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** Pinned vectors (test/vectors/key-schedule.json), derived once from `reference`; they are in docs/PROTOCOL.md too. */
const PINNED: Record<string, string> = JSON.parse(
  readFileSync(new URL("../vectors/key-schedule.json", import.meta.url), "utf8")
).outputs

describe("key schedule", () => {
  for (const [name, h] of [
    ["node", NodeCrypto.hashing],
    ["noble", NobleCrypto.hashing]
  ] as const) {
    it(`${name}: every secret, key, iv, Finished and update matches the independent computation`, () => {
      const ref = reference(shared, hellos, transcript)
      const hs = handshakeSecrets(h, shared, hellos)
      expect(hex(hs.initiator)).toBe(hex(ref.iHs))
      expect(hex(hs.responder)).toBe(hex(ref.rHs))
      const app = applicationSecrets(h, hs.master, transcript)
      expect(hex(app.initiator)).toBe(hex(ref.iAp))
      expect(hex(app.responder)).toBe(hex(ref.rAp))
      expect(hex(app.exporter)).toBe(hex(ref.exporter))
      const keys = trafficKeys(h, hs.initiator)
      expect(hex(keys.key)).toBe(hex(ref.iKey))
      expect(hex(keys.iv)).toBe(hex(ref.iIv))
      expect(hex(finishedMac(h, hs.initiator, transcript))).toBe(hex(ref.iFinished))
      expect(hex(nextTrafficSecret(h, hs.initiator))).toBe(hex(ref.iHsNext))
      expect(new Set([ref.iHs, ref.rHs, ref.iAp, ref.rAp, ref.exporter].map(hex)).size).toBe(5)
      expect(verificationCode(h, app.exporter)).toMatch(/^\d{4} \d{4} \d{4}$/)
    })
  }
  it("matches the pinned vectors", () => {
    const ref = reference(shared, hellos, transcript)
    const hs = handshakeSecrets(NodeCrypto.hashing, shared, hellos)
    const app = applicationSecrets(NodeCrypto.hashing, hs.master, transcript)
    const ours = {
      i_hs_traffic: hex(hs.initiator),
      r_hs_traffic: hex(hs.responder),
      i_ap_traffic: hex(app.initiator),
      r_ap_traffic: hex(app.responder),
      exporter: hex(app.exporter),
      i_hs_key: hex(ref.iKey),
      i_hs_iv: hex(ref.iIv),
      i_finished: hex(ref.iFinished),
      i_hs_traffic_upd: hex(ref.iHsNext),
      verification_code: verificationCode(NodeCrypto.hashing, app.exporter)
    }
    if (process.env.SIXCHAT_WRITE_VECTORS === "1") console.log(JSON.stringify(ours, null, 2))
    expect(ours).toEqual(PINNED)
  })
})
