/**
 * The end state of a handshake: the application traffic secrets and what was proved about the peer.
 */
import type { Role } from "../brands.js"
import { applicationSecrets, verificationCode } from "../channel/keySchedule.js"
import type { Transcript } from "../channel/transcript.js"
import type { Hashing } from "../crypto/primitives.js"
import type { PeerAuthenticated } from "./peerAuth.js"

export interface Established {
  readonly _tag: "Established"
  readonly role: Role
  readonly version: string
  readonly suite: string
  readonly peer: PeerAuthenticated
  /** Our sending and receiving application traffic secrets. */
  readonly writeSecret: Uint8Array
  readonly readSecret: Uint8Array
  readonly exporter: Uint8Array
  /** Derived from `exporter` when first read (one HMAC and some BigInt arithmetic that most sessions never need). */
  readonly verificationCode: string
}

/** Derives the application secrets over the transcript through the initiator's Finished. */
export const establish = (
  hashing: Hashing,
  master: Uint8Array,
  transcript: Transcript,
  role: Role,
  version: string,
  suite: string,
  peer: PeerAuthenticated
): Established => {
  const app = applicationSecrets(hashing, master, transcript.hash())
  let code: string | undefined
  return {
    _tag: "Established",
    role,
    version,
    suite,
    peer,
    writeSecret: role === "initiator" ? app.initiator : app.responder,
    readSecret: role === "initiator" ? app.responder : app.initiator,
    exporter: app.exporter,
    get verificationCode() {
      if (code === undefined) code = verificationCode(hashing, app.exporter)
      return code
    }
  }
}
