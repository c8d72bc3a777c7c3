/**
 * Our own authentication flight (PROTOCOL.md §6): Certificate, CertificateVerify, Finished — each
 * encoded once; those exact bytes go into the transcript and onto the wire.
 */
import type { Role } from "../brands.js"
import { finishedMac } from "../channel/keySchedule.js"
import type { Transcript } from "../channel/transcript.js"
import type { Hashing } from "../crypto/primitives.js"
import { encodeE2E } from "../e2e/xml.js"
import { certificateVerifyContent, type LocalIdentity } from "./parameters.js"

/** The plaintext messages of our flight, in order (an anonymous initiator sends no CertificateVerify). */
export const ownFlight = (
  hashing: Hashing,
  transcript: Transcript,
  role: Role,
  ownSecret: Uint8Array,
  identity: LocalIdentity | null
): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  // PROTOCOL.md §13.6.2: our stapled status, when we hold a valid one, rides in the Certificate
  // (so the transcript, hence both Finished MACs, cover it).
  const status = identity === null ? undefined : identity.staple?.()
  const chain = identity === null ? [] : [...identity.chain]
  const certificate = encodeE2E(
    status === undefined ? { _tag: "e2e.Certificate", chain } : { _tag: "e2e.Certificate", chain, status }
  )
  transcript.add(certificate)
  out.push(certificate)
  if (identity !== null) {
    const signature = identity.key.sign(certificateVerifyContent(role, transcript.hash()))
    const verify = encodeE2E({ _tag: "e2e.CertificateVerify", algorithm: identity.key.algorithm, signature })
    transcript.add(verify)
    out.push(verify)
  }
  const finished = encodeE2E({ _tag: "e2e.Finished", mac: finishedMac(hashing, ownSecret, transcript.hash()) })
  transcript.add(finished)
  out.push(finished)
  return out
}
