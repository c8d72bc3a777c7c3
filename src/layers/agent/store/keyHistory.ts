/**
 * The key history (`contact_keys`, PROTOCOL.md section 13.5.2): every chain a contact presented, with
 * its first and last sighting, newest serial, and when it was replaced as the pin. Used inside the
 * pinning transactions of `./contacts.ts`.
 */
import { Effect } from "effect"
import type { IssuerId } from "../../../domain/agent/contacts.js"
import type { Fingerprint, Handle } from "../../../domain/brands.js"
import type { StoreDb } from "./database.js"

/** A presented chain: the pin's two parts, and what the history keeps besides. */
export interface Chain {
  readonly fingerprint: Fingerprint
  readonly issuer: IssuerId
  readonly spki: string | null
  readonly serial: string | null
}

export const makeKeyHistory = (db: StoreDb) => {
  const { sql } = db

  /** The chain was this contact's pin once and was replaced since (a legacy row of unknown issuer counts). */
  const wasReplaced = (handle: Handle, chain: Chain) =>
    Effect.map(
      sql`SELECT 1 FROM contact_keys WHERE handle = ${handle} AND fingerprint = ${chain.fingerprint}
        AND (issuer = ${chain.issuer} OR issuer = '') AND replaced_at IS NOT NULL LIMIT 1`,
      (rows) => rows.length > 0
    )

  /**
   * Records a sighting of `chain` in the key history. A row of unknown issuer (from before store
   * migration 2) for the same key is folded into the row of the now known issuer.
   */
  const seen = (handle: Handle, chain: Chain, now: number) =>
    Effect.gen(function* () {
      const legacy =
        chain.issuer === ""
          ? []
          : yield* sql<{ readonly first_seen: number; readonly replaced_at: number | null }>`
              DELETE FROM contact_keys WHERE handle = ${handle} AND fingerprint = ${chain.fingerprint} AND issuer = ''
              RETURNING first_seen, replaced_at`
      const first = Math.min(now, ...legacy.map((r) => Number(r.first_seen)))
      const replaced = legacy[0]?.replaced_at ?? null
      yield* sql`INSERT INTO contact_keys (handle, fingerprint, issuer, spki, serial, first_seen, last_seen, replaced_at)
        VALUES (${handle}, ${chain.fingerprint}, ${chain.issuer}, ${chain.spki}, ${chain.serial}, ${first}, ${now},
          ${replaced})
        ON CONFLICT (handle, fingerprint, issuer) DO UPDATE SET last_seen = excluded.last_seen,
          first_seen = MIN(first_seen, excluded.first_seen),
          spki = COALESCE(excluded.spki, spki), serial = COALESCE(excluded.serial, serial)`
    })

  return { wasReplaced, seen }
}
