/**
 * The handshake state machine driven directly (no transport): the happy path for both roles, and a
 * peer that holds the keys but sends a tampered CertificateVerify or Finished (record protection cannot
 * catch those: only the transitions can).
 */
import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { Handle } from "../../src/domain/brands.js"
import { isVerifiedCertificate, type VerifiedCertificate } from "../../src/domain/cert/verify.js"
import type { CryptoSuite } from "../../src/domain/crypto/primitives.js"
import type { E2EMessage } from "../../src/domain/e2e/messages.js"
import { decodeE2E, encodeE2E } from "../../src/domain/e2e/xml.js"
import { makeLocalIdentity } from "../../src/domain/handshake/identity.js"
import * as Initiator from "../../src/domain/handshake/initiator.js"
import { certificateVerifyContent, type HandshakeConfig } from "../../src/domain/handshake/parameters.js"
import {
  type AwaitCertificate,
  isPeerAuthenticated,
  type PeerAuthenticated
} from "../../src/domain/handshake/peerAuth.js"
import * as Responder from "../../src/domain/handshake/responder.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"
import { makeTestPki } from "../support/identities.js"

const crypto: CryptoSuite = NodeCrypto.suite
const pki = makeTestPki()
const aliceTest = pki.identity("alice@example.org")
const aliceId = Either.getOrThrow(makeLocalIdentity(crypto, aliceTest.pkcs8, aliceTest.chain))
const bobTest = pki.identity("bob@example.org")
const bobId = Either.getOrThrow(makeLocalIdentity(crypto, bobTest.pkcs8, bobTest.chain))
const config = (identity: typeof aliceId | null): HandshakeConfig => ({ crypto, identity, allowAnonymousPeer: false })
/** The proof of a peer's chain, as the handshake driver gets it: from a real CertVerifier (PROTOCOL.md §13). */
const verifier = Effect.runSync(CertVerifierLive.make({ anchors: [pki.caDer] }))
const proofFor = (id: typeof aliceId, handle: string): VerifiedCertificate =>
  Effect.runSync(verifier.verify({ chain: id.chain, purpose: "client-auth", expectedHandle: Handle.make(handle) }))
const rnd = (b: number) => new Uint8Array(32).fill(b)
const decode = (raw: Uint8Array): E2EMessage => Either.getOrThrow(decodeE2E(raw))

/** Feeds a flight into peer authentication; `tamper` may rewrite one message first. */
const authenticate = (
  start: AwaitCertificate,
  flight: ReadonlyArray<Uint8Array>,
  proof: VerifiedCertificate,
  tamper?: (m: E2EMessage) => E2EMessage
): Either.Either<PeerAuthenticated, { reason: string }> => {
  const msgs = flight.map((raw) => {
    const m = decode(raw)
    const t = tamper ? tamper(m) : m
    return { raw: t === m ? raw : encodeE2E(t), m: t }
  })
  const [c, v, f] = msgs
  if (c?.m._tag !== "e2e.Certificate" || v?.m._tag !== "e2e.CertificateVerify" || f?.m._tag !== "e2e.Finished")
    throw new Error("unexpected flight")
  const cv = v.m
  const fin = f.m
  const s1 = Either.getOrThrow(start.onCertificate(c.raw, c.m))
  if (s1._tag !== "AwaitChainCheck") throw new Error("expected a chain check")
  return Either.flatMap(s1.onVerified(proof), (s2) =>
    Either.flatMap(s2.onCertificateVerify(v.raw, cv), (s3) => s3.onFinished(f.raw, fin))
  )
}

const run = (tamper?: (m: E2EMessage) => E2EMessage) => {
  const { state, hello } = Initiator.begin(config(aliceId), rnd(1), rnd(2))
  const offer = decode(hello)
  if (offer._tag !== "e2e.HelloOffer") throw new Error("offer")
  const r = Either.getOrThrow(Responder.onHello(config(bobId), rnd(3), rnd(4), hello, offer))
  const choice = Either.getOrThrow(decodeE2E(r.hello, "choice"))
  if (choice._tag !== "e2e.HelloChoice") throw new Error("choice")
  const i = Either.getOrThrow(state.onHello(r.hello, choice))
  return { r, i, result: authenticate(i.peerAuth, r.flight, proofFor(bobId, "bob@example.org"), tamper) }
}

describe("handshake states", () => {
  it("both roles reach Established with the same exporter, keys mirrored", () => {
    const { r, i, result } = run()
    const proof = Either.getOrThrow(result)
    const { flight, established } = i.next.onPeerAuthenticated(proof)
    const back = authenticate(r.peerAuth, flight, proofFor(aliceId, "alice@example.org"))
    const rEst = r.next.onPeerAuthenticated(Either.getOrThrow(back)).established
    expect(Buffer.from(established.exporter).equals(Buffer.from(rEst.exporter))).toBe(true)
    expect(Buffer.from(established.writeSecret).equals(Buffer.from(rEst.readSecret))).toBe(true)
    expect(Buffer.from(established.readSecret).equals(Buffer.from(rEst.writeSecret))).toBe(true)
    expect(established.verificationCode).toBe(rEst.verificationCode)
    expect(i.keys.write.key).toEqual(r.keys.read.key)
    expect(isPeerAuthenticated(proof) && isVerifiedCertificate(proof.certificate)).toBe(true)
  })

  it("proofs are nominal: a look-alike object literal is neither a VerifiedCertificate nor a PeerAuthenticated", () => {
    const real = proofFor(bobId, "bob@example.org")
    expect(isVerifiedCertificate(real)).toBe(true)
    expect(real.handle).toBe("bob@example.org")
    expect(real.path).toHaveLength(2) // the leaf and the test CA
    const lookAlike = { ...real }
    expect(isVerifiedCertificate(lookAlike)).toBe(false)
    expect(isPeerAuthenticated({ _tag: "PeerAuthenticated", certificate: real })).toBe(false)
    // The type checker refuses the same literal (the ES-private brand is missing):
    // @ts-expect-error a spread copy carries no brand
    const forged: VerifiedCertificate = lookAlike
    expect(forged).toBeDefined()
  })

  it("refuses a tampered CertificateVerify signature", () => {
    const { result } = run((m) =>
      m._tag === "e2e.CertificateVerify" ? { ...m, signature: m.signature.map((b, k) => (k === 5 ? b ^ 1 : b)) } : m
    )
    expect(Either.isLeft(result) && result.left.reason).toBe("BadSignature")
  })

  it("refuses a CertificateVerify made with the wrong role context (reflection of a signature)", () => {
    // Sign the responder's transcript as an "initiator": the verifier must use the responder context.
    const { state, hello } = Initiator.begin(config(aliceId), rnd(1), rnd(2))
    const offer = decode(hello)
    if (offer._tag !== "e2e.HelloOffer") throw new Error("offer")
    const r = Either.getOrThrow(Responder.onHello(config(bobId), rnd(3), rnd(4), hello, offer))
    const choice = Either.getOrThrow(decodeE2E(r.hello, "choice"))
    if (choice._tag !== "e2e.HelloChoice") throw new Error("choice")
    const i = Either.getOrThrow(state.onHello(r.hello, choice))
    const cert = decode(r.flight[0]!)
    if (cert._tag !== "e2e.Certificate") throw new Error("cert")
    const s1 = Either.getOrThrow(i.peerAuth.onCertificate(r.flight[0]!, cert))
    if (s1._tag !== "AwaitChainCheck") throw new Error("check")
    const s2 = Either.getOrThrow(s1.onVerified(proofFor(bobId, "bob@example.org")))
    const wrong = bobId.key.sign(certificateVerifyContent("initiator", s1.signedHash))
    const cv = { _tag: "e2e.CertificateVerify" as const, algorithm: bobId.key.algorithm, signature: wrong }
    const res = s2.onCertificateVerify(encodeE2E(cv), cv)
    expect(Either.isLeft(res) && res.left.reason).toBe("BadSignature")
  })

  it("refuses a tampered Finished", () => {
    const { result } = run((m) =>
      m._tag === "e2e.Finished" ? { ...m, mac: m.mac.map((b, k) => (k === 0 ? b ^ 0x80 : b)) } : m
    )
    expect(Either.isLeft(result) && result.left.reason).toBe("BadFinished")
  })

  it("refuses a responder that picks a suite or version never offered", () => {
    const { state, hello } = Initiator.begin(config(aliceId), rnd(1), rnd(2))
    const bad = {
      _tag: "e2e.HelloChoice" as const,
      random: rnd(3),
      version: "2",
      keyShare: { group: "x25519", key: rnd(5) },
      suite: "AES_256_GCM_SHA256"
    }
    expect(Either.isLeft(state.onHello(encodeE2E(bad), bad))).toBe(true)
    void hello
  })

  it("refuses a low-order X25519 share (all-zero secret)", () => {
    const { state } = Initiator.begin(config(aliceId), rnd(1), rnd(2))
    const zero = {
      _tag: "e2e.HelloChoice" as const,
      random: rnd(3),
      version: "1",
      keyShare: { group: "x25519", key: new Uint8Array(32) },
      suite: "AES_256_GCM_SHA256"
    }
    const res = state.onHello(encodeE2E(zero), zero)
    expect(Either.isLeft(res) && res.left.reason).toBe("BadKeyShare")
  })

  it("refuses a CertificateVerify whose alg is the certificate key's but was never offered (§6.5 step 3): illegal_parameter", () => {
    // The initiator offered only ed25519; a responder that ignores that signs with its P-256 key.
    const { state, hello } = Initiator.begin(config(aliceId), rnd(1), rnd(2))
    const narrowed = new Initiator.AwaitHello(
      state.config,
      { ...state.offer, sigAlgs: ["ed25519"] },
      state.keyPair,
      state.transcript
    )
    const offer = decode(hello)
    if (offer._tag !== "e2e.HelloOffer") throw new Error("offer")
    const r = Either.getOrThrow(Responder.onHello(config(bobId), rnd(3), rnd(4), hello, offer))
    const choice = Either.getOrThrow(decodeE2E(r.hello, "choice"))
    if (choice._tag !== "e2e.HelloChoice") throw new Error("choice")
    const i = Either.getOrThrow(narrowed.onHello(r.hello, choice))
    const result = authenticate(i.peerAuth, r.flight, proofFor(bobId, "bob@example.org"))
    expect(Either.isLeft(result) && result.left).toMatchObject({
      reason: "IllegalParameter",
      alert: "illegal_parameter"
    })
    // The same flight passes when ecdsa-p256-sha256 was offered: the refusal is about the offer alone.
    expect(Either.isRight(run().result)).toBe(true)
  })

  it("a responder refuses an offer that lists a value twice (illegal_parameter) and picks versions as tokens", () => {
    const { hello } = Initiator.begin(config(aliceId), rnd(1), rnd(2))
    const offer = decode(hello)
    if (offer._tag !== "e2e.HelloOffer") throw new Error("offer")
    const answer = (edit: Partial<typeof offer>) => {
      const o = { ...offer, ...edit }
      return Responder.onHello(config(bobId), rnd(3), rnd(4), encodeE2E(o), o)
    }
    for (const edit of [
      { versions: ["1", "1"] as const },
      { suites: ["AES_256_GCM_SHA256", "AES_256_GCM_SHA256"] as const },
      { keyShares: [offer.keyShares[0], offer.keyShares[0]] as const },
      { sigAlgs: ["ed25519", "ed25519"] as const }
    ]) {
      const res = answer(edit as never)
      expect(Either.isLeft(res) && res.left.alert).toBe("illegal_parameter")
    }
    const picked = answer({ versions: ["zz", "1"] as never })
    expect(Either.isRight(picked) && Either.getOrThrow(decodeE2E(picked.right.hello, "choice"))).toMatchObject({
      version: "1"
    })
    const none = answer({ versions: ["2", "v1"] as never })
    expect(Either.isLeft(none) && none.left.alert).toBe("protocol_version")
  })
})
