/**
 * Two sessions with the same peer (PROTOCOL.md §15, "Simultaneous open"): which one to keep. Pure.
 *
 * * Both connections have the same initiator: we only dial a peer we have no session with, and a
 *   peer only dials us when it has none, so the older one is dead on the other side: keep the new one
 *   (agent architecture note: "the peer evidently lost the old one").
 * * The new one completed more than `windowMs` after the existing one: no simultaneous open can be
 *   that far apart (a dial gives up after its connect and handshake limits), so the peer dialed after
 *   losing the existing one: keep the new one. Without this a peer that lost a connection we still
 *   believe in would be refused as a "duplicate" until our keep-alive noticed.
 * * Otherwise it is a simultaneous open: keep the connection whose initiator has the
 *   lexicographically smaller SPKI fingerprint; both sides compute the same answer. The loser is
 *   closed with `<Close reason="duplicate"/>`.
 */
import type { Fingerprint, Role } from "../../../domain/brands.js"

export interface Contender {
  /** Our role on this connection. */
  readonly role: Role
  /** When its handshake completed here (epoch ms). */
  readonly establishedAt: number
}

export const keepWhich = (input: {
  readonly existing: Contender
  readonly incoming: Contender
  readonly self: Fingerprint
  readonly peer: Fingerprint
  readonly windowMs: number
}): "existing" | "incoming" => {
  const { existing, incoming, self, peer, windowMs } = input
  if (existing.role === incoming.role) return "incoming"
  if (incoming.establishedAt - existing.establishedAt > windowMs) return "incoming"
  const initiatorOf = (c: Contender) => (c.role === "initiator" ? self : peer)
  return initiatorOf(incoming) < initiatorOf(existing) ? "incoming" : "existing"
}

/** The `<Close reason>` for the loser of a simultaneous open. */
export const DUPLICATE = "duplicate"
/** The `<Close reason>` when strict mode refuses a changed key (PROTOCOL.md §13). */
export const KEY_CHANGED = "key_changed"
