/**
 * IrpRevocations: the serials of peer certificates the agent's IRP reported revoked, which the agent's
 * certificate checks consult. Made by `makeRevocationNotes` in `layers/agent/irp/IrpDirectory.ts`.
 */
import { Context } from "effect"
import type { RevocationSource } from "../domain/cert/verify.js"

/** Serials (lower-case hex) of peer certificates the IRP reported revoked, as a CertVerifier revocation source. */
export interface RevocationNotes extends RevocationSource {
  readonly note: (serialHex: string) => void
  readonly size: () => number
}

export class IrpRevocations extends Context.Tag("sixchat/agent/IrpRevocations")<IrpRevocations, RevocationNotes>() {}
