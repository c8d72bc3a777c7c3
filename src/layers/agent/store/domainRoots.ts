/**
 * Pinned roots of foreign domains and their changes (PROTOCOL.md §22.3.3), in the agent store beside the
 * contacts' keys (§13.5). Pinning runs in one durable transaction: a root is never both pinned and
 * reported as a change. A different root is a domain key change: accepted at once (the pin moves, the
 * change stays on record) unless the caller holds it (strict mode), in which case the old pin stays and
 * the change waits for `acceptDomainRoot` (`sixchat trust @D`).
 */
import { Effect, Schema } from "effect"
import { KeyChangeStatus } from "../../../domain/agent/contacts.js"
import {
  compareDomainRoot,
  type DomainKeyChange,
  DomainName,
  type DomainPin,
  type DomainPinResult
} from "../../../domain/agent/domainRoots.js"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import { Millis } from "../../../domain/agent/messages.js"
import { Fingerprint } from "../../../domain/brands.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { StoreDb } from "./database.js"
import { decoder } from "./rows.js"

type DomainRootOps = Pick<
  AgentStoreService,
  "domainPin" | "domainPins" | "observeDomainRoot" | "acceptDomainRoot" | "domainKeyChanges"
>

const CHANGE_COLUMNS = "seq, domain, at, previous, current, subject, status, resolved_at"

const ChangeRow = Schema.Struct({
  seq: Schema.Int,
  domain: DomainName,
  at: Millis,
  previous: Fingerprint,
  current: Fingerprint,
  subject: Schema.String,
  status: KeyChangeStatus,
  resolved_at: Schema.NullOr(Millis)
})
const decodeChanges = decoder(
  "domain key change",
  ChangeRow,
  (r): DomainKeyChange => ({
    seq: r.seq,
    domain: r.domain,
    at: r.at,
    previous: r.previous,
    current: r.current,
    subject: r.subject,
    status: r.status,
    resolvedAt: r.resolved_at
  })
)

const PinRow = Schema.Struct({
  domain: DomainName,
  root: Schema.String,
  fingerprint: Fingerprint,
  subject: Schema.String,
  first_seen: Millis,
  changed_at: Schema.NullOr(Millis),
  previous_fingerprint: Schema.NullOr(Fingerprint)
})
const decodePins = decoder("domain root", PinRow, (r) => r)

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

export const makeDomainRootOps = (db: StoreDb): DomainRootOps => {
  const { sql } = db
  const cols = sql.literal(CHANGE_COLUMNS)

  const pinRow = (domain: DomainName) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT domain, root, fingerprint, subject, first_seen, changed_at, previous_fingerprint
          FROM domain_roots WHERE domain = ${domain}`,
        decodePins
      ),
      (rows) => rows[0]
    )

  const pendingOf = (domain: DomainName) =>
    Effect.flatMap(
      sql`SELECT ${cols} FROM domain_root_changes WHERE domain = ${domain} AND status = 'pending' ORDER BY seq DESC`,
      decodeChanges
    )

  const pinOf = (domain: DomainName) =>
    Effect.gen(function* () {
      const row = yield* pinRow(domain)
      if (row === undefined) return undefined
      const pending = yield* pendingOf(domain)
      return {
        domain: row.domain,
        fingerprint: row.fingerprint,
        root: row.root,
        subject: row.subject,
        firstSeen: row.first_seen,
        changedAt: row.changed_at,
        previous: row.previous_fingerprint,
        pendingChange: pending[0] ?? null
      } satisfies DomainPin
    })

  /** The pin moves to `change`'s root; other pending changes of the domain are superseded. */
  const accept = (change: DomainKeyChange, now: number) =>
    Effect.gen(function* () {
      yield* sql`UPDATE domain_root_changes SET status = 'superseded', resolved_at = ${now}
        WHERE domain = ${change.domain} AND status = 'pending' AND seq <> ${change.seq}`
      const [accepted] = yield* Effect.flatMap(
        sql`UPDATE domain_root_changes SET status = 'accepted', resolved_at = ${now} WHERE seq = ${change.seq}
          RETURNING ${cols}`,
        decodeChanges
      )
      yield* sql`UPDATE domain_roots SET root = (SELECT root FROM domain_root_changes WHERE seq = ${change.seq}),
        fingerprint = ${change.current}, subject = ${change.subject}, previous_fingerprint = fingerprint,
        changed_at = ${now}, last_seen = ${now}
        WHERE domain = ${change.domain}`
      return accepted ?? change
    })

  return {
    domainPin: Effect.fn("AgentStore.domainPin")(function* (domain) {
      return yield* db.read(pinOf(domain))
    }),

    domainPins: Effect.fn("AgentStore.domainPins")(function* () {
      return yield* db.read(
        Effect.gen(function* () {
          const rows = yield* sql<{ readonly domain: string }>`SELECT domain FROM domain_roots ORDER BY domain`
          const pins: Array<DomainPin> = []
          for (const r of rows) {
            const pin = yield* pinOf(r.domain as DomainName)
            if (pin !== undefined) pins.push(pin)
          }
          return pins
        })
      )
    }),

    observeDomainRoot: Effect.fn("AgentStore.observeDomainRoot")(function* ({ domain, root, now, acceptChange }) {
      return yield* db.durable<DomainPinResult>(
        Effect.gen(function* () {
          const pinned = yield* pinRow(domain)
          switch (compareDomainRoot(pinned, root)) {
            case "New": {
              yield* sql`INSERT INTO domain_roots (domain, root, fingerprint, subject, first_seen, last_seen)
                VALUES (${domain}, ${base64(root.der)}, ${root.fingerprint}, ${root.subject}, ${now}, ${now})`
              return [{ _tag: "New" } as const, []] as const
            }
            case "Same": {
              yield* sql`UPDATE domain_roots SET last_seen = ${now} WHERE domain = ${domain}`
              return [{ _tag: "Same" } as const, []] as const
            }
            case "Changed": {
              if (pinned === undefined) return yield* Effect.dieMessage("a domain key change without a pin")
              const [existing] = yield* Effect.flatMap(
                sql`SELECT ${cols} FROM domain_root_changes WHERE domain = ${domain} AND current = ${root.fingerprint}
                  AND status = 'pending'`,
                decodeChanges
              )
              const [pending] =
                existing === undefined
                  ? yield* Effect.flatMap(
                      sql`INSERT INTO domain_root_changes (domain, at, previous, current, root, subject, status)
                        VALUES (${domain}, ${now}, ${pinned.fingerprint}, ${root.fingerprint}, ${base64(root.der)},
                          ${root.subject}, 'pending') RETURNING ${cols}`,
                      decodeChanges
                    )
                  : [existing]
              if (pending === undefined) return yield* Effect.dieMessage("domain key change insert returned no row")
              const change = acceptChange === true ? yield* accept(pending, now) : pending
              const result: DomainPinResult = { _tag: "Changed", accepted: change.status === "accepted", change }
              // Each new root is reported once (a held change seen again is the same change).
              const events =
                existing === undefined || change.status === "accepted"
                  ? [{ _tag: "agent.DomainKeyChanged" as const, change }]
                  : []
              return [result, events] as const
            }
          }
        })
      )
    }),

    acceptDomainRoot: Effect.fn("AgentStore.acceptDomainRoot")(function* ({ domain, now }) {
      return yield* db.durable(
        Effect.gen(function* () {
          if ((yield* pinRow(domain)) === undefined)
            return yield* new AgentStoreError({
              reason: "NotFound",
              message: `No root of ${domain} is pinned yet: nothing to trust (it is pinned at the first contact with someone of ${domain}).`
            })
          const [newest] = yield* pendingOf(domain)
          if (newest === undefined)
            return yield* new AgentStoreError({
              reason: "NoKeyChange",
              message: `The CA of ${domain} has no change waiting to be trusted: nothing to accept.`
            })
          const accepted = yield* accept(newest, now)
          return [accepted, [{ _tag: "agent.DomainKeyChanged" as const, change: accepted }]] as const
        })
      )
    }),

    domainKeyChanges: Effect.fn("AgentStore.domainKeyChanges")(function* (domain) {
      return yield* db.read(
        Effect.flatMap(
          domain === undefined
            ? sql`SELECT ${cols} FROM domain_root_changes ORDER BY seq`
            : sql`SELECT ${cols} FROM domain_root_changes WHERE domain = ${domain} ORDER BY seq`,
          decodeChanges
        )
      )
    })
  }
}
