/**
 * PeerStatus: is a peer's *certificate* (its serial, not just its handle) good now? (PROTOCOL.md
 * §13.6.) The User Agent asks it after every handshake and before the session carries anything;
 * it also hands out this agent's own stapled status for its `<Certificate>` (§5.1.3, §13.6.2).
 * Implemented over the IRP (`layers/agent/irp/IrpPeerStatus`). An agent without it (no IRP, tests)
 * admits every peer whose chain verified, as `peer listen/connect` do.
 */
import { Context, type Effect } from "effect"
import type { VerifiedCertificate } from "../domain/cert/verify.js"

/** The verdict on a peer's certificate (§13.6.3). */
export type PeerAdmission =
  | {
      readonly _tag: "Good"
      readonly via: "staple" | "status"
      /** Epoch ms until which this verdict holds; a live session is checked again then (§13.6.3). */
      readonly until: number
    }
  | {
      readonly _tag: "Refused"
      /** `<Close reason>` token sent to the peer. */
      readonly wireReason: "certificate_revoked" | "certificate_unknown" | "status_unavailable"
      /** One sentence for the log / the user. */
      readonly message: string
    }

export interface PeerStatusService {
  /** The verdict on a verified peer certificate and the status it stapled (if any); never fails. */
  readonly check: (peer: VerifiedCertificate, staple: Uint8Array | undefined) => Effect.Effect<PeerAdmission>
  /** Our own current stapled status (DER-free bytes of §13.6.1), or `undefined` when none is valid now. */
  readonly ownStaple: () => Uint8Array | undefined
}

export class PeerStatus extends Context.Tag("sixchat/PeerStatus")<PeerStatus, PeerStatusService>() {}
