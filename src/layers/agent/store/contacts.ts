/**
 * Contacts, key pinning and key changes (brief section 6; issue 4, section 1). Pinning runs in one
 * durable transaction, so a crash can never leave a key both pinned and reported as a change.
 */
import { Effect, Schema } from "effect"
import { comparePin, type KeyChange, type PinResult, VerificationCode } from "../../../domain/agent/contacts.js"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import type { Fingerprint, Handle } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { StoreDb } from "./database.js"
import { CONTACT_SELECT, decodeContacts, decodeKeyChanges, KEY_CHANGE_COLUMNS } from "./rows.js"

type ContactOps = Pick<
  AgentStoreService,
  "pinContact" | "acceptKey" | "recordVerificationCode" | "contact" | "contacts" | "keyChanges"
>

const isVerificationCode = Schema.is(VerificationCode)

/** Makes sure `handle` has a contact row (fingerprint unset), so messages and transfers can refer to it. */
export const ensureContact = (db: StoreDb, handle: Handle, now: number) =>
  db.sql`INSERT INTO contacts (handle, created_at) VALUES (${handle}, ${now}) ON CONFLICT (handle) DO NOTHING`

export const makeContactOps = (db: StoreDb): ContactOps => {
  const { sql } = db
  const cols = sql.literal(KEY_CHANGE_COLUMNS)

  const pinnedOf = (handle: Handle) =>
    Effect.map(
      sql<{ readonly fingerprint: string | null }>`SELECT fingerprint FROM contacts WHERE handle = ${handle}`,
      (rows) => (rows.length === 0 ? undefined : { fingerprint: (rows[0]?.fingerprint ?? null) as Fingerprint | null })
    )

  /** Accepts `change`: the pin moves to its key, other pending changes of the handle are superseded. */
  const accept = (change: KeyChange, now: number, handshake: boolean) =>
    Effect.gen(function* () {
      yield* sql`UPDATE key_changes SET status = 'superseded', resolved_at = ${now}
        WHERE handle = ${change.handle} AND status = 'pending' AND seq <> ${change.seq}`
      const [accepted] = yield* Effect.flatMap(
        sql`UPDATE key_changes SET status = 'accepted', resolved_at = ${now} WHERE seq = ${change.seq}
          RETURNING ${cols}`,
        decodeKeyChanges
      )
      yield* sql`UPDATE contacts SET fingerprint = ${change.current}, pinned_at = ${now}
        ${handshake ? sql`, last_handshake_at = ${now}` : sql.literal("")}
        WHERE handle = ${change.handle}`
      return accepted ?? change
    })

  const notFound = (handle: Handle) =>
    new AgentStoreError({
      reason: "NotFound",
      message: `${handle} is not a contact yet: connect to them (or receive a message) first.`
    })

  return {
    pinContact: Effect.fn("AgentStore.pinContact")(function* ({ handle, fingerprint, now, acceptChange }) {
      return yield* db.durable<PinResult>(
        Effect.gen(function* () {
          const stored = yield* pinnedOf(handle)
          const pinned = stored?.fingerprint ?? null
          switch (comparePin(pinned, fingerprint)) {
            case "New": {
              yield* sql`INSERT INTO contacts (handle, fingerprint, pinned_at, last_handshake_at, created_at)
                VALUES (${handle}, ${fingerprint}, ${now}, ${now}, ${now})
                ON CONFLICT (handle) DO UPDATE SET fingerprint = excluded.fingerprint,
                  pinned_at = excluded.pinned_at, last_handshake_at = excluded.last_handshake_at`
              const result: PinResult = { _tag: "New" }
              return [result, [{ _tag: "agent.ContactPinned", handle, fingerprint }]] as const
            }
            case "Same": {
              yield* sql`UPDATE contacts SET last_handshake_at = ${now} WHERE handle = ${handle}`
              const result: PinResult = { _tag: "Same" }
              return [result, []] as const
            }
            case "Changed": {
              const previous = pinned as Fingerprint
              // The same new key seen again (each reconnect attempt) is one change, not many.
              const [seen] = yield* Effect.flatMap(
                sql`SELECT ${cols} FROM key_changes
                  WHERE handle = ${handle} AND current = ${fingerprint} AND status = 'pending'`,
                decodeKeyChanges
              )
              const [inserted] =
                seen === undefined
                  ? yield* Effect.flatMap(
                      sql`INSERT INTO key_changes (handle, at, previous, current, status)
                        VALUES (${handle}, ${now}, ${previous}, ${fingerprint}, 'pending') RETURNING ${cols}`,
                      decodeKeyChanges
                    )
                  : [undefined]
              const pending = seen ?? inserted
              if (pending === undefined) return yield* Effect.dieMessage("key change insert returned no row")
              const change = acceptChange === true ? yield* accept(pending, now, true) : pending
              const events: ReadonlyArray<StoreEvent> =
                seen === undefined || change.status === "accepted" ? [{ _tag: "agent.KeyChanged", change }] : []
              const result: PinResult = {
                _tag: "Changed",
                previous,
                current: fingerprint,
                accepted: change.status === "accepted",
                change
              }
              return [result, events] as const
            }
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
              message: `The key waiting for ${handle} is ${newest.current}, not ${fingerprint}: compare the verification code again before trusting it.`
            })
          }
          const accepted = yield* accept(chosen, now, false)
          return [accepted, [{ _tag: "agent.KeyChanged", change: accepted }]] as const
        })
      )
    }),

    recordVerificationCode: Effect.fn("AgentStore.recordVerificationCode")(function* ({ handle, code, now }) {
      if (!isVerificationCode(code)) {
        return yield* new AgentStoreError({
          reason: "InvalidArgument",
          message: "A verification code must be 1 to 128 characters long."
        })
      }
      return yield* db.relaxed(
        Effect.gen(function* () {
          const rows = yield* sql`UPDATE contacts SET verification_code = ${code}, verification_code_at = ${now}
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

    keyChanges: Effect.fn("AgentStore.keyChanges")(function* (handle) {
      return yield* db.read(
        Effect.flatMap(sql`SELECT ${cols} FROM key_changes WHERE handle = ${handle} ORDER BY seq`, decodeKeyChanges)
      )
    })
  }
}
