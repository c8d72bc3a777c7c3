/**
 * The last handshake state, the same for both roles (PROTOCOL.md §6.3 steps 5-6, §6.4 step 6): the
 * peer is authenticated (the `PeerAuthenticated` proof), so the initiator may now reveal itself with
 * its own flight, and both derive the application secrets over the whole transcript. The responder
 * sent its flight with its Hello (§6.2), so its `flight` is empty.
 */
import type { Role } from "../brands.js"
import type { HandshakeSecrets } from "../channel/keySchedule.js"
import type { Transcript } from "../channel/transcript.js"
import { type Established, establish } from "./established.js"
import { ownFlight } from "./ownFlight.js"
import type { HandshakeConfig } from "./parameters.js"
import type { PeerAuthenticated } from "./peerAuth.js"

export class AwaitPeer {
  readonly _tag = "AwaitPeer"
  constructor(
    readonly config: HandshakeConfig,
    readonly secrets: HandshakeSecrets,
    readonly transcript: Transcript,
    readonly role: Role,
    readonly version: string,
    readonly suite: string
  ) {}

  /** The peer is authenticated: our flight (initiator only), then both switch to application keys. */
  onPeerAuthenticated(proof: PeerAuthenticated): {
    readonly flight: ReadonlyArray<Uint8Array>
    readonly established: Established
  } {
    const { hashing } = this.config.crypto
    const flight =
      this.role === "initiator"
        ? ownFlight(hashing, this.transcript, "initiator", this.secrets.initiator, this.config.identity)
        : []
    const established = establish(
      hashing,
      this.secrets.master,
      this.transcript,
      this.role,
      this.version,
      this.suite,
      proof
    )
    return { flight, established }
  }
}
