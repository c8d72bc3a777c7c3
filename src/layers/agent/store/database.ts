/**
 * The agent store's database: the SQLite file in the identity home and the two kinds of write
 * transaction every store method goes through.
 *
 * Durability (issue 4, section 2: a message "is written to the outbox before it is sent"):
 * * WAL journal, `synchronous = FULL`: a commit returns only after the WAL was fsync'ed, so what
 *   `enqueue` or `receive` stored survives a power cut or an OS crash, not only a killed process.
 *   That matters because the store's word is passed on: `send` tells the user the message is safe,
 *   and `receive` is followed by an `<Ack>` that makes the sender drop its copy. In WAL mode NORMAL
 *   would only be safe against a process crash (the last commits can roll back after a power loss),
 *   and better-sqlite3 is built with `SQLITE_DEFAULT_WAL_SYNCHRONOUS=1`, i.e. NORMAL as soon as an
 *   existing WAL database is reopened: FULL is therefore set explicitly at every open.
 * * "Relaxed" writes: state changes that the protocol repairs by itself if they are lost (marking a
 *   message sent or delivered, read receipts, retry bookkeeping, file progress, a transfer's
 *   in-progress states `sending`, `receiving`, `verifying` (transfers.ts)) commit with
 *   `synchronous = NORMAL`: they survive `kill -9` (the WAL is in the OS page cache) and may roll
 *   back to the previous state after a power cut, which at worst resends a message (the receiver
 *   deduplicates and acknowledges again) or resumes a transfer a little earlier. This saves an
 *   fsync per message and per progress update. The level is a per-connection setting that SQLite
 *   refuses to change inside a transaction, so a store-wide lock serialises writes and restores FULL
 *   before releasing it; every write of this database goes through the store.
 * * `busy_timeout` (via `SqliteLive`): wait for a lock held elsewhere (a backup, an operator's
 *   `sqlite3` shell, a CLI reading history) instead of failing at once.
 * * One writer at a time: the agent is one process, `@effect/sql-sqlite-node` serialises statements
 *   on its connection and runs each transaction alone on it, so every state change is one
 *   transaction and readers in the same process see it as soon as it committed. The message path's
 *   hot operations run on a second connection of the same file (`fastDb.ts`, issue 15: synchronous
 *   better-sqlite3 calls, no per-statement Effect machinery), with the same settings, under the same
 *   lock: the two never hold a write transaction at once, and what one commits the other reads at
 *   once (WAL). Another process may read the file (WAL lets it), but its writes would not reach this
 *   process's change feed.
 *
 * The file is created with mode 0600 (its directory 0700 when created here): it holds who the user
 * talks to and every message. SQLite gives the `-wal` and `-shm` files the database's mode.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { SqliteClient } from "@effect/sql-sqlite-node/SqliteClient"
import { Effect, Layer, Option, PubSub, type Queue, type Scope, Stream } from "effect"
import { AgentStoreError } from "../../../domain/agent/errors.js"
import type { StoreEvent } from "../../../domain/agent/events.js"
import * as SqliteLive from "../../sql/SqliteLive.js"
import * as FastDb from "./fastDb.js"

export const DATABASE_FILE_MODE = 0o600
/** Subscribers more than this many events behind lose the oldest (a slow subscriber never stalls writers). */
export const FEED_CAPACITY = 4096

/** A write's result and the events to publish once it committed. */
export type Write<A> = Effect.Effect<readonly [A, ReadonlyArray<StoreEvent>], AgentStoreError | SqlError>

export interface StoreDb {
  readonly sql: SqlClient.SqlClient
  /** One transaction at `synchronous = FULL`: on disk when it returns. */
  readonly durable: <A>(body: Write<A>) => Effect.Effect<A, AgentStoreError>
  /** One transaction at `synchronous = NORMAL`: survives a killed process; may roll back on power loss. */
  readonly relaxed: <A>(body: Write<A>) => Effect.Effect<A, AgentStoreError>
  readonly read: <A>(query: Effect.Effect<A, AgentStoreError | SqlError>) => Effect.Effect<A, AgentStoreError>
  /**
   * The message path's synchronous connection (`fastDb.ts`), for a database in a file; `undefined` for
   * an in-memory one (the operations then go through `sql`).
   */
  readonly fast: FastStore | undefined
  readonly publish: (events: ReadonlyArray<StoreEvent>) => Effect.Effect<void>
  readonly subscribe: Effect.Effect<Queue.Dequeue<StoreEvent>, never, Scope.Scope>
  readonly changes: Stream.Stream<StoreEvent>
}

/** A synchronous body: its result and the events to publish once it committed; may throw `AgentStoreError`. */
export type FastWrite<A> = (q: FastDb.FastStatements) => readonly [A, ReadonlyArray<StoreEvent>]

export interface FastStore {
  /** As `durable`, the body run synchronously on the fast connection, under the same lock. */
  readonly durable: <A>(body: FastWrite<A>) => Effect.Effect<A, AgentStoreError>
  /** As `relaxed`, the body run synchronously on the fast connection, under the same lock. */
  readonly relaxed: <A>(body: FastWrite<A>) => Effect.Effect<A, AgentStoreError>
  /** One read statement, then `decode` (which may throw `AgentStoreError`). */
  readonly read: <A>(
    sql: string,
    params: ReadonlyArray<unknown>,
    decode: (rows: ReadonlyArray<Record<string, unknown>>) => A
  ) => Effect.Effect<A, AgentStoreError>
}

export const storageError = (cause: SqlError): AgentStoreError => {
  const driver = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return new AgentStoreError({
    reason: "Storage",
    message: `The agent database failed (${cause.message.trim()}${driver}); check that the identity home is writable and the disk not full.`,
    cause
  })
}

/** What a synchronous body threw, as the store reports it. */
const thrown = (cause: unknown): AgentStoreError =>
  cause instanceof AgentStoreError
    ? cause
    : storageError(new SqlError({ cause, message: "Failed to execute statement" }))

const errno = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

/**
 * Creates the database file (mode 0600) and its directory (0700) if missing, and takes group and
 * other permissions away from an existing one and its `-wal` / `-shm` companions.
 */
export const prepareDatabaseFile = (file: string): Effect.Effect<void, AgentStoreError> =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 })
      // `a` creates without truncating; the mode applies only when the file is created.
      await (await fs.open(file, "a", DATABASE_FILE_MODE)).close()
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        await fs.chmod(f, DATABASE_FILE_MODE).catch((e: unknown) => {
          if (errno(e) !== "ENOENT") throw e
        })
      }
    },
    catch: (cause) =>
      new AgentStoreError({
        reason: "Io",
        message: `Could not create the agent database ${file} (${errno(cause) ?? String(cause)}); check the identity home's permissions.`,
        cause
      })
  })

/** A SQLite client on `file` (created 0600 if missing), with `SqliteLive`'s settings. */
export const sqliteLayer = (file: string): Layer.Layer<SqlClient.SqlClient, AgentStoreError> =>
  Layer.unwrapEffect(
    Effect.as(
      prepareDatabaseFile(file),
      Layer.mapError(
        SqliteLive.layer(file),
        (cause) =>
          new AgentStoreError({
            reason: "Storage",
            message: `Could not open the agent database ${file}; check that it is a SixChat database and not locked.`,
            cause
          })
      )
    )
  )

/** The fast connection on the client's file, when it is a file (`fastDb.ts`). */
const fastConnection: Effect.Effect<FastDb.FastDb | undefined, AgentStoreError, Scope.Scope> = Effect.gen(function* () {
  const client = yield* Effect.serviceOption(SqliteClient)
  if (Option.isNone(client) || FastDb.isPrivate(client.value.config.filename)) return undefined
  const file = client.value.config.filename
  return yield* Effect.mapError(
    FastDb.open(file, SqliteLive.BUSY_TIMEOUT_MS),
    (cause) =>
      new AgentStoreError({
        reason: "Storage",
        message: `Could not open the agent database ${file} a second time; check that it is a SixChat database and not locked.`,
        cause
      })
  )
})

/**
 * Checks the dialect, sets the connection's durability, and builds the write helpers and the feed.
 * Must be built on a client of its own (`sqliteLayer`): the relaxed writes change a per-connection
 * setting under the store's lock.
 */
export const makeStoreDb: Effect.Effect<StoreDb, AgentStoreError, SqlClient.SqlClient | Scope.Scope> = Effect.gen(
  function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const isSqlite = sql.onDialectOrElse({ sqlite: () => true, orElse: () => false })
    if (!isSqlite) {
      return yield* new AgentStoreError({
        reason: "Storage",
        message: "The agent store runs on SQLite only: build it with AgentStoreLive.layer(path)."
      })
    }
    const setSynchronous = (level: "FULL" | "NORMAL") => sql.unsafe(`PRAGMA synchronous = ${level}`)
    yield* Effect.mapError(
      Effect.all([setSynchronous("FULL"), sql.unsafe("PRAGMA foreign_keys = ON")], { discard: true }),
      storageError
    )
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<StoreEvent>(FEED_CAPACITY), PubSub.shutdown)
    const lock = yield* Effect.makeSemaphore(1)
    const publish = (events: ReadonlyArray<StoreEvent>) =>
      events.length === 0 ? Effect.void : Effect.asVoid(PubSub.publishAll(pubsub, events))

    /** Commits `body`, then publishes its events while still holding the lock (feed order = commit order). */
    const commit = <A>(body: Write<A>) =>
      Effect.flatMap(sql.withTransaction(body), ([result, events]) => Effect.as(publish(events), result))

    const toStoreError = <A>(effect: Effect.Effect<A, AgentStoreError | SqlError>) =>
      Effect.catchTag(effect, "SqlError", (e) => Effect.fail(storageError(e)))

    const fastDb = yield* fastConnection
    const fastWrite =
      (db: FastDb.FastDb, level: "durable" | "relaxed") =>
      <A>(body: FastWrite<A>): Effect.Effect<A, AgentStoreError> =>
        lock.withPermits(1)(
          Effect.suspend(() => {
            let written: readonly [A, ReadonlyArray<StoreEvent>]
            try {
              written = db.write(level, body)
            } catch (cause) {
              return Effect.fail(thrown(cause))
            }
            return Effect.as(publish(written[1]), written[0])
          })
        )
    const fast: FastStore | undefined =
      fastDb === undefined
        ? undefined
        : {
            durable: fastWrite(fastDb, "durable"),
            relaxed: fastWrite(fastDb, "relaxed"),
            read: (text, params, decode) => Effect.try({ try: () => decode(fastDb.read(text, params)), catch: thrown })
          }

    return {
      sql,
      fast,
      durable: (body) => toStoreError(lock.withPermits(1)(commit(body))),
      relaxed: (body) =>
        toStoreError(
          lock.withPermits(1)(
            Effect.acquireUseRelease(
              setSynchronous("NORMAL"),
              () => commit(body),
              // Restoring FULL must not fail silently: every later durable write depends on it.
              () => Effect.orDie(setSynchronous("FULL"))
            )
          )
        ),
      read: toStoreError,
      publish,
      subscribe: PubSub.subscribe(pubsub),
      changes: Stream.fromPubSub(pubsub)
    } satisfies StoreDb
  }
)
