/**
 * Contacts, key pinning, key history and key changes (PROTOCOL.md §13; issue 4, section 1; issue 10,
 * sections 2 and 3; PROTOCOL.md section 13.5). Pinning runs in one durable transaction, so a crash
 * can never leave a key both pinned and reported as a change.
 *
 * The pin is per chain: (leaf SPKI fingerprint, issuing CA). Every chain a contact presents is kept
 * in `contact_keys` with its first and last sighting and newest serial; when the pin moves, the chain
 * it left is marked replaced. A replaced chain presented again is a key change that is never accepted
 * without the user (`returning`), whatever the mode: key1 -> key2 -> key1 is how a stolen old key looks.
 */
import { Effect, Schema } from "effect"
import {
  comparePin,
  type IssuerId,
  type KeyChange,
  mayAcceptSilently,
  type PinResult,
  SessionCode
} from "../../../domain/agent/contacts.js"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import type { Fingerprint, Handle } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import {
  CONTACT_KEY_COLUMNS,
  CONTACT_SELECT,
  decodeContactKeys,
  decodeContacts,
  decodeKeyChanges,
  KEY_CHANGE_COLUMNS
} from "./contactRows.js"
import type { StoreDb } from "./database.js"
import { type Chain, makeKeyHistory } from "./keyHistory.js"

type ContactOps = Pick<
  AgentStoreService,
  | "pinContact"
  | "acceptKey"
  | "recordSessionCode"
  | "verifyContact"
  | "contact"
  | "contacts"
  | "contactKeys"
  | "keyChanges"
>

const isSessionCode = Schema.is(SessionCode)

/** Makes sure `handle` has a contact row (fingerprint unset), so messages and transfers can refer to it. */
export const ensureContact = (db: StoreDb, handle: Handle, now: number) =>
  db.sql`INSERT INTO contacts (handle, created_at) VALUES (${handle}, ${now}) ON CONFLICT (handle) DO NOTHING`

export const makeContactOps = (db: StoreDb): ContactOps => {
  const { sql } = db
  const cols = sql.literal(KEY_CHANGE_COLUMNS)

  const pinnedOf = (handle: Handle) =>
    Effect.map(
      sql<{ readonly fingerprint: string | null; readonly pinned_issuer: string | null }>`
        SELECT fingerprint, pinned_issuer FROM contacts WHERE handle = ${handle}`,
      (rows) => {
        const row = rows[0]
        if (row === undefined) return undefined
        return row.fingerprint === null
          ? null
          : { fingerprint: row.fingerprint as Fingerprint, issuer: (row.pinned_issuer ?? "") as IssuerId }
      }
    )

  const { wasReplaced, seen } = makeKeyHistory(db)

  /**
   * Accepts `change`: the pin moves to its chain, the chain it leaves is marked replaced, the
   * accepted one no longer is (the user trusted it again), other pending changes are superseded,
   * and the `contact verify` mark drops (the safety number changed).
   */
  const accept = (change: KeyChange, now: number, handshake: boolean) =>
    Effect.gen(function* () {
      yield* sql`UPDATE key_changes SET status = 'superseded', resolved_at = ${now}
        WHERE handle = ${change.handle} AND status = 'pending' AND seq <> ${change.seq}`
      const [accepted] = yield* Effect.flatMap(
        sql`UPDATE key_changes SET status = 'accepted', resolved_at = ${now} WHERE seq = ${change.seq}
          RETURNING ${cols}`,
        decodeKeyChanges
      )
      const pinned = yield* pinnedOf(change.handle)
      if (pinned != null)
        yield* sql`UPDATE contact_keys SET replaced_at = ${now} WHERE handle = ${change.handle}
          AND fingerprint = ${pinned.fingerprint} AND issuer = ${pinned.issuer} AND replaced_at IS NULL`
      yield* sql`UPDATE contact_keys SET replaced_at = NULL WHERE handle = ${change.handle}
        AND fingerprint = ${change.current} AND (issuer = ${change.currentIssuer} OR issuer = '')`
      yield* sql`UPDATE contacts SET fingerprint = ${change.current}, pinned_issuer = ${change.currentIssuer},
        pinned_at = ${now}, verified_fingerprint = NULL, verified_own = NULL, verified_at = NULL
        ${handshake ? sql`, last_handshake_at = ${now}` : sql.literal("")}
        WHERE handle = ${change.handle}`
      return accepted ?? change
    })

  const notFound = (handle: Handle) =>
    new AgentStoreError({
      reason: "NotFound",
      message: `${handle} is not a contact yet: connect to them (or receive a message) first.`
    })

  /** A chain other than the pin: one pending change per new chain (each reconnect is the same change). */
  const changed = (
    handle: Handle,
    pinned: { readonly fingerprint: Fingerprint; readonly issuer: IssuerId },
    chain: Chain,
    now: number,
    acceptChange: boolean
  ) =>
    Effect.gen(function* () {
      const returning = yield* wasReplaced(handle, chain)
      yield* seen(handle, chain, now)
      const [existing] = yield* Effect.flatMap(
        sql`SELECT ${cols} FROM key_changes WHERE handle = ${handle} AND current = ${chain.fingerprint}
          AND status = 'pending'`,
        decodeKeyChanges
      )
      const [pending] =
        existing === undefined
          ? yield* Effect.flatMap(
              sql`INSERT INTO key_changes (handle, at, previous, current, previous_issuer, current_issuer, came_back, status)
                VALUES (${handle}, ${now}, ${pinned.fingerprint}, ${chain.fingerprint}, ${pinned.issuer}, ${chain.issuer},
                  ${returning ? 1 : 0}, 'pending') RETURNING ${cols}`,
              decodeKeyChanges
            )
          : existing.currentIssuer === chain.issuer
            ? [existing]
            : yield* Effect.flatMap(
                sql`UPDATE key_changes SET current_issuer = ${chain.issuer} WHERE seq = ${existing.seq} RETURNING ${cols}`,
                decodeKeyChanges
              )
      if (pending === undefined) return yield* Effect.dieMessage("key change insert returned no row")
      const change = mayAcceptSilently(!acceptChange, pending.returning) ? yield* accept(pending, now, true) : pending
      const events: ReadonlyArray<StoreEvent> =
        existing === undefined || change.status === "accepted" ? [{ _tag: "agent.KeyChanged", change }] : []
      const result: PinResult = {
        _tag: "Changed",
        previous: pinned.fingerprint,
        current: chain.fingerprint,
        accepted: change.status === "accepted",
        change
      }
      return [result, events] as const
    })

  return {
    pinContact: Effect.fn("AgentStore.pinContact")(function* ({ handle, fingerprint, chain, now, acceptChange }) {
      const presented: Chain = {
        fingerprint,
        issuer: chain?.issuer ?? "",
        spki: chain?.spki ?? null,
        serial: chain?.serial ?? null
      }
      return yield* db.durable<PinResult>(
        Effect.gen(function* () {
          const pinned = (yield* pinnedOf(handle)) ?? null
          switch (comparePin(pinned, presented)) {
            case "New": {
              yield* sql`INSERT INTO contacts (handle, fingerprint, pinned_issuer, pinned_at, last_handshake_at, created_at)
                VALUES (${handle}, ${fingerprint}, ${presented.issuer}, ${now}, ${now}, ${now})
                ON CONFLICT (handle) DO UPDATE SET fingerprint = excluded.fingerprint,
                  pinned_issuer = excluded.pinned_issuer, pinned_at = excluded.pinned_at,
                  last_handshake_at = excluded.last_handshake_at`
              yield* seen(handle, presented, now)
              const result: PinResult = { _tag: "New" }
              return [result, [{ _tag: "agent.ContactPinned", handle, fingerprint }]] as const
            }
            case "Same": {
              const issuer = pinned?.issuer === "" ? presented.issuer : (pinned?.issuer ?? presented.issuer)
              yield* sql`UPDATE contacts SET last_handshake_at = ${now}, pinned_issuer = ${issuer} WHERE handle = ${handle}`
              yield* seen(handle, presented, now)
              const result: PinResult = { _tag: "Same" }
              return [result, []] as const
            }
            case "Changed":
              // `pinned` is not null here: comparePin says New for a contact without a pin.
              if (pinned === null) return yield* Effect.dieMessage("a key change without a pin")
              return yield* changed(handle, pinned, presented, now, acceptChange === true)
          }
        })
      )
    }),

    acceptKey: Effect.fn("AgentStore.acceptKey")(function* ({ handle, fingerprint, now }) {
      return yield* db.durable(
        Effect.gen(function* () {
          if ((yield* pinnedOf(handle)) === undefined) return yield* notFound(handle)
          const pending = yield* Effect.flatMap(
            sql`SELECT ${cols} FROM key_changes WHERE handle = ${handle} AND status = 'pending' ORDER BY seq DESC`,
            decodeKeyChanges
          )
          const newest = pending[0]
          if (newest === undefined) {
            return yield* new AgentStoreError({
              reason: "NoKeyChange",
              message: `${handle} has no new key waiting to be trusted: nothing to accept.`
            })
          }
          const chosen = fingerprint === undefined ? newest : pending.find((c) => c.current === fingerprint)
          if (chosen === undefined) {
            return yield* new AgentStoreError({
              reason: "Conflict",
              message: `The key waiting for ${handle} is ${newest.current}, not ${fingerprint}: compare the safety number again before trusting it.`
            })
          }
          const accepted = yield* accept(chosen, now, false)
          return [accepted, [{ _tag: "agent.KeyChanged", change: accepted }]] as const
        })
      )
    }),

    verifyContact: Effect.fn("AgentStore.verifyContact")(function* ({ handle, fingerprint, own, now }) {
      return yield* db.durable(
        Effect.gen(function* () {
          const pinned = yield* pinnedOf(handle)
          if (pinned == null) return yield* notFound(handle)
          if (pinned.fingerprint !== fingerprint) {
            return yield* new AgentStoreError({
              reason: "Conflict",
              message: `${handle}'s key changed since this safety number was computed: show it again and compare the new one.`
            })
          }
          yield* sql`UPDATE contacts SET verified_fingerprint = ${fingerprint}, verified_own = ${own},
            verified_at = ${now} WHERE handle = ${handle}`
          return [undefined, []] as const
        })
      )
    }),

    recordSessionCode: Effect.fn("AgentStore.recordSessionCode")(function* ({ handle, code, now }) {
      if (!isSessionCode(code)) {
        return yield* new AgentStoreError({
          reason: "InvalidArgument",
          message: "A session code must be 1 to 128 characters long."
        })
      }
      return yield* db.relaxed(
        Effect.gen(function* () {
          const rows = yield* sql`UPDATE contacts SET session_code = ${code}, session_code_at = ${now}
            WHERE handle = ${handle} RETURNING handle`
          if (rows.length === 0) return yield* notFound(handle)
          return [undefined, []] as const
        })
      )
    }),

    contact: Effect.fn("AgentStore.contact")(function* (handle) {
      const rows = yield* db.read(
        Effect.flatMap(sql`${sql.literal(CONTACT_SELECT)} WHERE c.handle = ${handle}`, decodeContacts)
      )
      return rows[0]
    }),

    contacts: Effect.fn("AgentStore.contacts")(function* () {
      return yield* db.read(
        Effect.flatMap(
          sql`${sql.literal(CONTACT_SELECT)} ORDER BY last_message_at IS NULL, last_message_at DESC, c.handle`,
          decodeContacts
        )
      )
    }),

    contactKeys: Effect.fn("AgentStore.contactKeys")(function* (handle) {
      return yield* db.read(
        Effect.gen(function* () {
          const pinned = (yield* pinnedOf(handle)) ?? null
          const rows = yield* sql`SELECT ${sql.literal(CONTACT_KEY_COLUMNS)} FROM contact_keys
            WHERE handle = ${handle} ORDER BY first_seen, fingerprint`
          return yield* decodeContactKeys({ fingerprint: pinned?.fingerprint ?? null, issuer: pinned?.issuer ?? null })(
            rows
          )
        })
      )
    }),

    keyChanges: Effect.fn("AgentStore.keyChanges")(function* (handle?: Handle) {
      return yield* db.read(
        Effect.flatMap(
          handle === undefined
            ? sql`SELECT ${cols} FROM key_changes ORDER BY seq`
            : sql`SELECT ${cols} FROM key_changes WHERE handle = ${handle} ORDER BY seq`,
          decodeKeyChanges
        )
      )
    })
  }
}
