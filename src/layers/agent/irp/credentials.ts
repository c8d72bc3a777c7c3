/**
 * The agent's own credentials, which change while it runs (issue 10 §2: renewal before expiry,
 * PROTOCOL.md 17.4.8): the key stays, the certificate chain is replaced. New handshakes (peers and
 * the IRP connection) read the current value; sessions already established keep the one they began
 * with, which stays valid until its own expiry.
 */
import type { LocalIdentity } from "../../../domain/handshake/parameters.js"

export interface AgentCredentials {
  readonly identity: LocalIdentity
  /** The same key and chain as DER, for the IRP connection. */
  readonly pkcs8: Uint8Array
  readonly chain: ReadonlyArray<Uint8Array>
}

export interface CredentialsCell {
  readonly get: () => AgentCredentials
  readonly set: (next: AgentCredentials) => void
}

export const makeCell = (initial: AgentCredentials): CredentialsCell => {
  let current = initial
  return {
    get: () => current,
    set: (next) => {
      current = next
    }
  }
}
