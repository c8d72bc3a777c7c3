/**
 * The agent store's schema, as versioned migrations kept in code and applied in one transaction
 * when the store opens (DDL is transactional in SQLite: a failed migration leaves nothing behind).
 *
 * Layout notes: times are INTEGER epoch milliseconds; ids, handles and fingerprints are TEXT as on
 * the wire; every state column has a CHECK so that a bug cannot store a state the code does not
 * know. Each index exists so that the hot paths stay O(log n) however long the history grows:
 * * `messages_out_id` / `messages_in_id`: `enqueue`'s idempotency and `receive`'s deduplication
 *   (an outgoing id is ours and unique; an incoming one is the peer's, unique per peer);
 * * `messages_peer_at` / `messages_at`: history pages, per peer and overall, and a contact's last
 *   message time;
 * * `messages_outbox` (per peer) / `messages_outbox_all`: partial indexes holding only unacknowledged
 *   messages, so resending after a reconnect never scans delivered history;
 * * `messages_unread`: a partial index for the unread counts of `contacts()`;
 * * `transfers_active`: unfinished transfers, to resume after a restart.
 *
 * Migration 2 (issue 10, sections 2 and 3; PROTOCOL.md section 13.5) adds the key history
 * (`contact_keys`: every chain a contact presented, keyed by handle, leaf SPKI fingerprint and issuing
 * CA), the pinned chain's issuer, the `contact verify` mark, and the kind of each key change; it
 * renames the per-session code's columns (the "verification code" is now the "session code"). Keys
 * pinned before it are carried over with an unknown issuer (`''`), and the old key of every accepted
 * change as replaced at the time it was replaced, so a key1 -> key2 -> key1 rollback is caught for
 * contacts from before the upgrade too.
 *
 * Migration 6 (issue 13, item 4) lets an outgoing message expire: state `expired` and its time
 * `expired_at`. The table is rebuilt (SQLite cannot change a CHECK), keeping every row and `seq`,
 * and its indexes made again; `messages_expired` (partial) counts the failed ones for `status`. (Id 4 was once reserved for this and never used; 6 comes after 5.)
 *
 * Migration 7 (issue 14; PROTOCOL.md §22.3.3) pins the roots of foreign domains: `domain_roots` (one
 * row per domain: the pinned root's DER, its SHA-256, subject, first seen, when the pin last moved and
 * from what) and `domain_root_changes` (every domain key change, pending until `sixchat trust @D` in
 * strict mode, as `key_changes` is for contacts). No existing row changes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

export const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "create_agent_store",
    statements: [
      `CREATE TABLE contacts (
        handle TEXT PRIMARY KEY,
        fingerprint TEXT,
        pinned_at INTEGER,
        last_handshake_at INTEGER,
        verification_code TEXT,
        verification_code_at INTEGER,
        created_at INTEGER NOT NULL,
        CHECK ((fingerprint IS NULL) = (pinned_at IS NULL))
      )`,
      `CREATE TABLE key_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        handle TEXT NOT NULL REFERENCES contacts (handle),
        at INTEGER NOT NULL,
        previous TEXT NOT NULL,
        current TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'superseded')),
        resolved_at INTEGER,
        CHECK ((status = 'pending') = (resolved_at IS NULL))
      )`,
      `CREATE INDEX key_changes_handle ON key_changes (handle, seq)`,
      `CREATE UNIQUE INDEX key_changes_pending ON key_changes (handle, current) WHERE status = 'pending'`,
      `CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        peer TEXT NOT NULL REFERENCES contacts (handle),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        delivered_at INTEGER,
        read_at INTEGER,
        received_at INTEGER,
        cancelled_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        CHECK ((direction = 'out' AND state IN ('queued', 'sent', 'delivered', 'read', 'cancelled')
                AND received_at IS NULL)
            OR (direction = 'in' AND state IN ('received', 'read') AND received_at IS NOT NULL))
      )`,
      `CREATE UNIQUE INDEX messages_out_id ON messages (id) WHERE direction = 'out'`,
      `CREATE UNIQUE INDEX messages_in_id ON messages (peer, id) WHERE direction = 'in'`,
      `CREATE INDEX messages_peer_at ON messages (peer, at, seq)`,
      `CREATE INDEX messages_at ON messages (at, seq)`,
      `CREATE INDEX messages_outbox ON messages (peer, seq) WHERE direction = 'out' AND state IN ('queued', 'sent')`,
      `CREATE INDEX messages_outbox_all ON messages (seq) WHERE direction = 'out' AND state IN ('queued', 'sent')`,
      `CREATE INDEX messages_unread ON messages (peer) WHERE direction = 'in' AND state = 'received'`,
      `CREATE TABLE retry (
        peer TEXT PRIMARY KEY REFERENCES contacts (handle),
        failures INTEGER NOT NULL CHECK (failures >= 0),
        next_attempt_at INTEGER,
        last_error TEXT,
        updated_at INTEGER NOT NULL
      )`,
      `CREATE TABLE transfers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        id TEXT NOT NULL,
        peer TEXT NOT NULL REFERENCES contacts (handle),
        name TEXT NOT NULL,
        offered_name TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        sha256 TEXT NOT NULL,
        chunk INTEGER NOT NULL CHECK (chunk BETWEEN 1 AND 65536),
        path TEXT,
        temp_path TEXT,
        final_path TEXT,
        byte_offset INTEGER NOT NULL DEFAULT 0 CHECK (byte_offset BETWEEN 0 AND size),
        state TEXT NOT NULL,
        detail TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((direction = 'out' AND path IS NOT NULL
                AND state IN ('offered', 'accepted', 'sending', 'done', 'cancelled', 'failed'))
            OR (direction = 'in' AND temp_path IS NOT NULL
                AND state IN ('offered', 'accepted', 'receiving', 'verifying', 'done', 'cancelled', 'failed')))
      )`,
      `CREATE UNIQUE INDEX transfers_key ON transfers (direction, peer, id)`,
      `CREATE INDEX transfers_active ON transfers (peer, seq) WHERE state NOT IN ('done', 'cancelled', 'failed')`
    ]
  },
  {
    id: 2,
    name: "key_history_and_verification",
    statements: [
      `CREATE TABLE contact_keys (
        handle TEXT NOT NULL REFERENCES contacts (handle),
        fingerprint TEXT NOT NULL,
        issuer TEXT NOT NULL,
        spki TEXT,
        serial TEXT,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        replaced_at INTEGER,
        PRIMARY KEY (handle, fingerprint, issuer)
      )`,
      `ALTER TABLE contacts RENAME COLUMN verification_code TO session_code`,
      `ALTER TABLE contacts RENAME COLUMN verification_code_at TO session_code_at`,
      `ALTER TABLE contacts ADD COLUMN pinned_issuer TEXT`,
      `ALTER TABLE contacts ADD COLUMN verified_fingerprint TEXT`,
      `ALTER TABLE contacts ADD COLUMN verified_own TEXT`,
      `ALTER TABLE contacts ADD COLUMN verified_at INTEGER`,
      `ALTER TABLE key_changes ADD COLUMN previous_issuer TEXT NOT NULL DEFAULT ''`,
      `ALTER TABLE key_changes ADD COLUMN current_issuer TEXT NOT NULL DEFAULT ''`,
      `ALTER TABLE key_changes ADD COLUMN came_back INTEGER NOT NULL DEFAULT 0 CHECK (came_back IN (0, 1))`,
      `UPDATE contacts SET pinned_issuer = '' WHERE fingerprint IS NOT NULL`,
      `INSERT INTO contact_keys (handle, fingerprint, issuer, first_seen, last_seen)
        SELECT handle, fingerprint, '', pinned_at, COALESCE(last_handshake_at, pinned_at)
        FROM contacts WHERE fingerprint IS NOT NULL`,
      `INSERT OR IGNORE INTO contact_keys (handle, fingerprint, issuer, first_seen, last_seen, replaced_at)
        SELECT k.handle, k.previous, '', MIN(k.at), MIN(k.at), MAX(k.resolved_at)
        FROM key_changes k JOIN contacts c ON c.handle = k.handle
        WHERE k.status = 'accepted' AND k.previous <> c.fingerprint
        GROUP BY k.handle, k.previous`
    ]
  },
  {
    // Issue 10, section 6: an incoming message's history position and shown time is its arrival,
    // not the sender's (possibly backdated) `<Message sent>`, which stays in `created_at`.
    id: 3,
    name: "incoming messages at their arrival time",
    statements: [`UPDATE messages SET at = received_at WHERE direction = 'in' AND at <> received_at`]
  },
  {
    // Issue 15: `<FileOffer>` carries the size and a validator (`etag`) instead of the whole-file
    // SHA-256, which now comes in `<FileDone>` (docs/PROTOCOL.md 5.4). The table is rebuilt (SQLite
    // cannot drop a NOT NULL): `sha256` may be NULL until known, `etag` is new. Transfers unfinished
    // at the upgrade were offered in the old form and cannot resume with a peer of the new one: they
    // end `failed`, saying to send the file again; finished ones keep their history.
    id: 5,
    name: "file offers carry an etag, the SHA-256 comes with FileDone",
    statements: [
      `CREATE TABLE transfers_v5 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        id TEXT NOT NULL,
        peer TEXT NOT NULL REFERENCES contacts (handle),
        name TEXT NOT NULL,
        offered_name TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        sha256 TEXT,
        etag TEXT NOT NULL,
        chunk INTEGER NOT NULL CHECK (chunk BETWEEN 1 AND 65536),
        path TEXT,
        temp_path TEXT,
        final_path TEXT,
        byte_offset INTEGER NOT NULL DEFAULT 0 CHECK (byte_offset BETWEEN 0 AND size),
        state TEXT NOT NULL,
        detail TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((direction = 'out' AND path IS NOT NULL
                AND state IN ('offered', 'accepted', 'sending', 'done', 'cancelled', 'failed'))
            OR (direction = 'in' AND temp_path IS NOT NULL
                AND state IN ('offered', 'accepted', 'receiving', 'verifying', 'done', 'cancelled', 'failed')))
      )`,
      `INSERT INTO transfers_v5 (seq, direction, id, peer, name, offered_name, size, sha256, etag, chunk, path,
          temp_path, final_path, byte_offset, state, detail, created_at, updated_at)
        SELECT seq, direction, id, peer, name, offered_name, size, sha256, 'pre-v5', chunk, path,
          temp_path, final_path, byte_offset,
          CASE WHEN state IN ('done', 'cancelled', 'failed') THEN state ELSE 'failed' END,
          CASE WHEN state IN ('done', 'cancelled', 'failed') THEN detail
            ELSE 'The file transfer protocol changed in an update: send the file again.' END,
          created_at, updated_at
        FROM transfers`,
      `DROP TABLE transfers`,
      `ALTER TABLE transfers_v5 RENAME TO transfers`,
      `CREATE UNIQUE INDEX transfers_key ON transfers (direction, peer, id)`,
      `CREATE INDEX transfers_active ON transfers (peer, seq) WHERE state NOT IN ('done', 'cancelled', 'failed')`
    ]
  },
  {
    // Issue 13, item 4: messages that cannot be delivered expire (`--outbox-expiry`) and show as failed.
    id: 6,
    name: "outgoing messages expire undelivered",
    statements: [
      `CREATE TABLE messages_v6 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        peer TEXT NOT NULL REFERENCES contacts (handle),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        delivered_at INTEGER,
        read_at INTEGER,
        received_at INTEGER,
        cancelled_at INTEGER,
        expired_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        CHECK ((direction = 'out' AND state IN ('queued', 'sent', 'delivered', 'read', 'cancelled', 'expired')
                AND received_at IS NULL)
            OR (direction = 'in' AND state IN ('received', 'read') AND received_at IS NOT NULL AND expired_at IS NULL))
      )`,
      `INSERT INTO messages_v6 (seq, id, peer, direction, body, state, at, created_at, sent_at, delivered_at, read_at,
          received_at, cancelled_at, attempts)
        SELECT seq, id, peer, direction, body, state, at, created_at, sent_at, delivered_at, read_at,
          received_at, cancelled_at, attempts
        FROM messages`,
      `DROP TABLE messages`,
      `ALTER TABLE messages_v6 RENAME TO messages`,
      `CREATE UNIQUE INDEX messages_out_id ON messages (id) WHERE direction = 'out'`,
      `CREATE UNIQUE INDEX messages_in_id ON messages (peer, id) WHERE direction = 'in'`,
      `CREATE INDEX messages_peer_at ON messages (peer, at, seq)`,
      `CREATE INDEX messages_at ON messages (at, seq)`,
      `CREATE INDEX messages_outbox ON messages (peer, seq) WHERE direction = 'out' AND state IN ('queued', 'sent')`,
      `CREATE INDEX messages_outbox_all ON messages (seq) WHERE direction = 'out' AND state IN ('queued', 'sent')`,
      `CREATE INDEX messages_unread ON messages (peer) WHERE direction = 'in' AND state = 'received'`,
      `CREATE INDEX messages_expired ON messages (peer) WHERE direction = 'out' AND state = 'expired'`
    ]
  },
  {
    // Issue 14 (PROTOCOL.md §22.3.3): foreign domains' roots, pinned on first use, and their changes.
    id: 7,
    name: "pinned roots of foreign domains",
    statements: [
      `CREATE TABLE domain_roots (
        domain TEXT PRIMARY KEY,
        root TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        subject TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        changed_at INTEGER,
        previous_fingerprint TEXT,
        CHECK ((changed_at IS NULL) = (previous_fingerprint IS NULL))
      )`,
      `CREATE TABLE domain_root_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        domain TEXT NOT NULL REFERENCES domain_roots (domain),
        at INTEGER NOT NULL,
        previous TEXT NOT NULL,
        current TEXT NOT NULL,
        root TEXT NOT NULL,
        subject TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'superseded')),
        resolved_at INTEGER,
        CHECK ((status = 'pending') = (resolved_at IS NULL))
      )`,
      `CREATE INDEX domain_root_changes_domain ON domain_root_changes (domain, seq)`
    ]
  }
]

/** Brings the schema up to date; returns the ids it applied. Idempotent. */
export const migrate: Effect.Effect<ReadonlyArray<number>, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  return yield* sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`CREATE TABLE IF NOT EXISTS agent_schema_migrations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL
      )`
      const done = new Set(
        (yield* sql<{ readonly id: number }>`SELECT id FROM agent_schema_migrations`).map((r) => Number(r.id))
      )
      const applied: Array<number> = []
      for (const migration of migrations) {
        if (done.has(migration.id)) continue
        for (const statement of migration.statements) yield* sql.unsafe(statement)
        yield* sql`INSERT INTO agent_schema_migrations (id, name) VALUES (${migration.id}, ${migration.name})`
        applied.push(migration.id)
      }
      return applied
    })
  )
})
