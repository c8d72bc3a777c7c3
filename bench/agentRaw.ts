/**
 * The anchor of the message figure: the same rows written straight into SQLite with better-sqlite3,
 * with nothing in between. Same schema as the agent store (its migrations: the `messages` table
 * with every index and CHECK), same settings (WAL, `synchronous = FULL`, foreign keys, busy
 * timeout), and the same commit pattern as `AgentStore.enqueue`: one transaction per message, which
 * returns only once the WAL is on disk. The store's own enqueue also makes sure the contact exists;
 * the anchor inserts the contact once, up front.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { historyTime } from "../src/domain/agent/messages.js"
import { migrations } from "../src/layers/agent/store/migrations.js"
import { BUSY_TIMEOUT_MS } from "../src/layers/sql/SqliteLive.js"

/** The little of better-sqlite3's API the anchor uses (the package ships no type declarations). */
interface Statement {
  readonly run: (...params: ReadonlyArray<unknown>) => unknown
}
interface Database {
  readonly pragma: (source: string) => unknown
  readonly exec: (source: string) => unknown
  readonly prepare: (source: string) => Statement
  readonly close: () => unknown
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new (file: string) => Database

export interface RawAnchor {
  /** Inserts `count` messages, one durable transaction each; returns the elapsed milliseconds. */
  readonly insert: (count: number, body: string) => number
  readonly close: () => void
}

/** Opens a fresh database under `parent` (removed by `close`). */
export const openRawAnchor = (parent: string, peer: string): RawAnchor => {
  const dir = mkdtempSync(join(parent, "raw-"))
  const db = new Database(join(dir, "raw.db"))
  db.pragma("journal_mode = WAL")
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  db.pragma("foreign_keys = ON")
  db.pragma("synchronous = FULL")
  for (const m of migrations) for (const statement of m.statements) db.exec(statement)
  db.prepare("INSERT INTO contacts (handle, created_at) VALUES (?, ?)").run(peer, Date.now())
  const insert = db.prepare(
    `INSERT INTO messages (id, peer, direction, body, state, at, created_at)
     VALUES (?, ?, 'out', ?, 'queued', ?, ?)`
  )
  const begin = db.prepare("BEGIN")
  const commit = db.prepare("COMMIT")
  let next = 0
  return {
    insert: (count, body) => {
      const start = performance.now()
      for (let i = 0; i < count; i++) {
        const now = Date.now()
        // Unique ids of a ULID's length, as the agent's.
        const id = `01RAW${String(next++).padStart(21, "0")}`
        begin.run()
        insert.run(id, peer, body, historyTime("out", now, now), now)
        commit.run()
      }
      return performance.now() - start
    },
    close: () => {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
