/**
 * The handshake without a connection (not a benchmark of record): both roles' state machines driven
 * in one process with the node:crypto provider and real CertVerifiers (the initiator's without the
 * signature cache, the responder's with it, as in `hsSeq.ts`), records sealed and opened as on the
 * wire. It prints the CPU per handshake of that work (both roles together), so that `hsSeq.ts`'s
 * client + server CPU can be split into the handshake's own work and the rest (sockets, fibers, the
 * channel around it).
 *
 *     node dist-bench/bench/hsDomain.js [COUNT]
 */
import { randomBytes } from "node:crypto"
import { Either } from "effect"
import type { Handle } from "../src/domain/brands.js"
import type { Purpose, VerifiedCertificate } from "../src/domain/cert/verify.js"
import { ContentType, RecordProtection } from "../src/domain/channel/record.js"
import type { E2EMessage } from "../src/domain/e2e/messages.js"
import { decodeE2E } from "../src/domain/e2e/xml.js"
import { makeLocalIdentity } from "../src/domain/handshake/identity.js"
import * as Initiator from "../src/domain/handshake/initiator.js"
import type { HandshakeConfig, LocalIdentity } from "../src/domain/handshake/parameters.js"
import type { AwaitCertificate, PeerAuthenticated } from "../src/domain/handshake/peerAuth.js"
import * as Responder from "../src/domain/handshake/responder.js"
import * as CertVerifierLive from "../src/layers/CertVerifierLive.js"
import * as NodeCrypto from "../src/layers/crypto/NodeCrypto.js"
import { makeBenchPki, removePki } from "./pki.js"

const count = Number(process.argv[2] ?? "2000")
const crypto = NodeCrypto.suite
const pki = makeBenchPki()
const identity = (id: typeof pki.client): LocalIdentity =>
  Either.getOrThrow(makeLocalIdentity(crypto, id.pkcs8, id.chain))
const config = (id: LocalIdentity): HandshakeConfig => ({ crypto, identity: id, allowAnonymousPeer: false })
const alice = config(identity(pki.client))
const bob = config(identity(pki.server))
const verify = (cacheSize: number) => {
  const run = CertVerifierLive.makeVerifySync({ anchors: [pki.caDer], signatureCacheSize: cacheSize })
  return (chain: ReadonlyArray<Uint8Array>, purpose: Purpose, handle: string): VerifiedCertificate => {
    const r = run({ chain, purpose, expectedHandle: handle as Handle }, Math.floor(Date.now() / 1000) * 1000)
    if (r._tag === "CertError") throw new Error(r.message)
    return r
  }
}
const initiatorVerify = verify(0)
const responderVerify = verify(1000)

const decoded = (raw: Uint8Array, hello?: "offer" | "choice"): E2EMessage => Either.getOrThrow(decodeE2E(raw, hello))
const must = <T extends E2EMessage["_tag"]>(m: E2EMessage, tag: T): Extract<E2EMessage, { _tag: T }> => {
  if (m._tag !== tag) throw new Error(`expected ${tag}, got ${m._tag}`)
  return m as Extract<E2EMessage, { _tag: T }>
}

/** Opens a sealed flight and authenticates the peer through it, as the driver does. */
const authenticate = (
  start: AwaitCertificate,
  frames: ReadonlyArray<Uint8Array>,
  read: RecordProtection,
  check: (chain: ReadonlyArray<Uint8Array>) => VerifiedCertificate
): PeerAuthenticated => {
  const [c, v, f] = frames.map((frame) => {
    const opened = read.open(frame.subarray(4))
    if (opened === null) throw new Error("a record did not open")
    return { raw: opened.content, message: decoded(opened.content) }
  })
  if (c === undefined || v === undefined || f === undefined) throw new Error("short flight")
  const s1 = Either.getOrThrow(start.onCertificate(c.raw, must(c.message, "e2e.Certificate")))
  if (s1._tag !== "AwaitChainCheck") throw new Error("expected a chain check")
  const s2 = Either.getOrThrow(s1.onVerified(check(s1.chain)))
  const s3 = Either.getOrThrow(s2.onCertificateVerify(v.raw, must(v.message, "e2e.CertificateVerify")))
  return Either.getOrThrow(s3.onFinished(f.raw, must(f.message, "e2e.Finished")))
}

const once = (): void => {
  const { state, hello } = Initiator.begin(alice, randomBytes(32), randomBytes(32))
  const offer = must(decoded(hello, "offer"), "e2e.HelloOffer")
  const r = Either.getOrThrow(Responder.onHello(bob, randomBytes(32), randomBytes(32), hello, offer))
  const rWrite = new RecordProtection(crypto.aead, r.keys.write)
  const rFlight = r.flight.map((m) => rWrite.seal(ContentType.Xml, m))
  const i = Either.getOrThrow(state.onHello(r.hello, must(decoded(r.hello, "choice"), "e2e.HelloChoice")))
  const toBob = authenticate(i.peerAuth, rFlight, new RecordProtection(crypto.aead, i.keys.read), (chain) =>
    initiatorVerify(chain, "server-auth", pki.server.handle)
  )
  const iWrite = new RecordProtection(crypto.aead, i.keys.write)
  const iFlight = i.next.onPeerAuthenticated(toBob).flight.map((m) => iWrite.seal(ContentType.Xml, m))
  const toAlice = authenticate(r.peerAuth, iFlight, new RecordProtection(crypto.aead, r.keys.read), (chain) =>
    responderVerify(chain, "client-auth", pki.client.handle)
  )
  r.next.onPeerAuthenticated(toAlice)
}

for (let k = 0; k < Math.max(200, count / 4); k++) once()
const before = process.cpuUsage()
for (let k = 0; k < count; k++) once()
const used = process.cpuUsage(before)
process.stderr.write(`domain: ${((used.user + used.system) / count).toFixed(0)} µs CPU per handshake (both roles)\n`)
removePki(pki)
