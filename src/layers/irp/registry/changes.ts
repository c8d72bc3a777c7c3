/**
 * The registry's change feed (PROTOCOL.md §17, `Watch`; issue 3: "including changes made through
 * another IRP process sharing the same PostgreSQL").
 *
 * * PostgreSQL: each write transaction runs `pg_notify` on a channel named after the current schema;
 *   PostgreSQL delivers it at commit (never for a rolled-back change) to every session listening,
 *   this process's own included. One `LISTEN` connection per process (`PgClient.listen`) feeds an
 *   in-process `PubSub`, so a change reaches subscribers once, whichever process made it.
 * * SQLite: the database is one file used by one server process, so publishing to the `PubSub` after
 *   the commit is enough for the server's own writes. Other processes may still write to the file (the
 *   `sixchat irp` admin commands: revoke, tokens): the file's `PRAGMA data_version`, which moves with
 *   every commit of another connection, is read every `EXTERNAL_POLL_MS`. A move is told to the
 *   `onChange` listeners as `lost` (caches drop what they hold), and the revoked serials are read again:
 *   each one not seen before is published as a `certificate` change with its serial, so that watchers
 *   learn of an operator's revocation within one poll (issue 10 §2; PROTOCOL.md §17.9.2).
 */
import { createHash } from "node:crypto"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Deferred, Effect, Option, PubSub, type Queue, Schedule, Schema, type Scope, Stream } from "effect"
import { Handle } from "../../../domain/brands.js"
import { type RegistryChange, RegistryError } from "../../../domain/irp/registry.js"
import type { ChangeListener } from "../../../services/IrpRegistry.js"
import { SyncWrites } from "../../../services/SyncWrites.js"

export interface ChangeFeed {
  /** Runs inside the writing transaction (PostgreSQL: `pg_notify`, delivered at commit). */
  readonly inTransaction: (changes: ReadonlyArray<RegistryChange>) => Effect.Effect<void, SqlError>
  /** Runs after the commit (SQLite: publish in process). */
  readonly afterCommit: (changes: ReadonlyArray<RegistryChange>) => Effect.Effect<void>
  /**
   * `afterCommit` as a plain call, for a commit made outside any fiber (`SyncWrites`' group commit, issue
   * 15): the same listeners told and the same changes published, before it returns.
   */
  readonly afterCommitNow: (changes: ReadonlyArray<RegistryChange>) => void
  readonly subscribe: Effect.Effect<Queue.Dequeue<RegistryChange>, never, Scope.Scope>
  readonly changes: Stream.Stream<RegistryChange>
  /** See `IrpRegistryService.onChange`. */
  readonly onChange: (listener: ChangeListener) => Effect.Effect<void, never, Scope.Scope>
}

/** Subscribers more than this many changes behind lose the oldest (a slow watcher never stalls writers). */
export const FEED_CAPACITY = 4096
/** Bounded wait for our `LISTEN` to become active: this many probes, `PROBE_PAUSE_MS` apart at most. */
const READY_PROBES = 500
const PROBE_PAUSE_MS = 10
const READY_PAYLOAD = "ready"
/** How often the SQLite file's `data_version` is read, to notice other processes' writes (ms). */
const EXTERNAL_POLL_MS = 250

/**
 * A notice: a transaction's changes (a JSON array), or one change (the form earlier versions sent); each
 * change is `{ handle, kind: "bindings" | "certificate", revokedSerial? }` (other keys are ignored and
 * dropped). Anything else, or any malformed change, makes the whole notice say nothing (`[]`).
 *
 * Decoded by hand: every process decodes every process's notices (one per registration batch), and
 * `Schema.parseJson` of the union cost ~10 µs per registration in a profile (issue 15); the Schema this
 * replaces is the reference it is tested against (`test/irp/registry/notices.test.ts`).
 */
const isHandle = Schema.is(Handle)
const SERIAL = /^[0-9a-f]{1,40}$/
const changeOf = (value: unknown): RegistryChange | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const { handle, kind, revokedSerial } = value as Record<string, unknown>
  if (!isHandle(handle) || (kind !== "bindings" && kind !== "certificate")) return undefined
  if (!("revokedSerial" in value)) return { handle, kind }
  return typeof revokedSerial === "string" && SERIAL.test(revokedSerial) ? { handle, kind, revokedSerial } : undefined
}
export const decodeChanges = (payload: string): ReadonlyArray<RegistryChange> => {
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return []
  }
  if (!Array.isArray(value)) {
    const one = changeOf(value)
    return one === undefined ? [] : [one]
  }
  const changes: Array<RegistryChange> = []
  for (const item of value) {
    const change = changeOf(item)
    if (change === undefined) return []
    changes.push(change)
  }
  return changes
}
const changeJson = (change: RegistryChange) => ({
  handle: change.handle,
  kind: change.kind,
  ...(change.revokedSerial === undefined ? {} : { revokedSerial: change.revokedSerial })
})
/**
 * PostgreSQL refuses a notice payload of 8000 bytes or more: a transaction's changes go in as few
 * notices as keep each under this many bytes (a batch of 64 registrations of short handles takes one).
 */
const MAX_NOTICE_BYTES = 7900
/** `changes` as notice payloads (JSON arrays), each under `MAX_NOTICE_BYTES`. */
export const noticePayloads = (changes: ReadonlyArray<RegistryChange>): ReadonlyArray<string> => {
  const payloads: Array<string> = []
  let items: Array<string> = []
  let bytes = 2
  for (const change of changes) {
    const item = JSON.stringify(changeJson(change))
    const size = Buffer.byteLength(item) + 1
    if (items.length > 0 && bytes + size > MAX_NOTICE_BYTES) {
      payloads.push(`[${items.join(",")}]`)
      items = []
      bytes = 2
    }
    items.push(item)
    bytes += size
  }
  if (items.length > 0) payloads.push(`[${items.join(",")}]`)
  return payloads
}

/**
 * A pause on the wall clock, not the Effect `Clock`: the registry is often built inside tests that
 * install `TestClock` (as `@effect/vitest`'s `layer` does), where `Effect.sleep` would never end.
 * Used only for the start-up probe and the SQLite poll, never for anything a test should control.
 */
export const wallClockPause = (ms: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })

/** NOTIFY channel names are identifiers: at most 63 bytes. */
const channelFor = (schema: string): string => {
  const plain = `sixchat_irp_${schema}`
  return Buffer.byteLength(plain) <= 63
    ? plain
    : `sixchat_irp_${createHash("sha256").update(schema).digest("hex").slice(0, 32)}`
}

export const makeChangeFeed: Effect.Effect<ChangeFeed, RegistryError, SqlClient.SqlClient | Scope.Scope> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<RegistryChange>(FEED_CAPACITY), PubSub.shutdown)
    // Synchronous listeners (caches): told before the writer's effect returns, so that no reader of this
    // process can see, after a write has returned, what that write replaced.
    const listeners = new Set<ChangeListener>()
    const tell = (changes: ReadonlyArray<RegistryChange>): void => {
      for (const listener of listeners) for (const change of changes) listener.changed(change)
    }
    const lose = (): void => {
      for (const listener of listeners) listener.lost()
    }
    const base = {
      subscribe: PubSub.subscribe(pubsub),
      changes: Stream.fromPubSub(pubsub),
      onChange: (listener: ChangeListener) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            listeners.add(listener)
          }),
          () => Effect.sync(() => listeners.delete(listener))
        )
    }
    /**
     * Publishes without an effect: a change the sliding feed has room for is offered as `publishAll` would
     * offer it; when a subscriber is `FEED_CAPACITY` behind, `publish` drops its oldest change, as it does
     * for the effectful path (a sliding `publish` is synchronous).
     */
    const publishNow = (changes: ReadonlyArray<RegistryChange>): void => {
      for (const change of changes)
        if (!pubsub.unsafeOffer(change) && pubsub.isActive()) Effect.runSync(PubSub.publish(pubsub, change))
    }
    const inProcess: ChangeFeed = {
      ...base,
      inTransaction: () => Effect.void,
      afterCommit: (changes) =>
        Effect.suspend(() => {
          tell(changes)
          return PubSub.publishAll(pubsub, changes)
        }),
      afterCommitNow: (changes) => {
        tell(changes)
        publishNow(changes)
      }
    }
    const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    if (!isPg) {
      // SQLite (one connection per process): `data_version` moves only with other connections' commits.
      const raw = sql.withoutTransforms()
      const dataVersion = Effect.map(
        raw<{ readonly data_version: number | bigint }>`PRAGMA data_version`,
        (rows) => rows[0]?.data_version
      )
      // Revocation is final, so the set of revoked serials only grows: what is new in it after another
      // process's commit is exactly what that process revoked.
      const revoked = raw<{ readonly serial: string; readonly handle: string }>`SELECT serial, handle
        FROM irp_certificates WHERE status = 'revoked'`
      const known = new Set<string>()
      const newlyRevoked = Effect.map(revoked, (rows) => {
        const fresh: Array<RegistryChange> = []
        for (const row of rows) {
          if (known.has(row.serial)) continue
          known.add(row.serial)
          fresh.push({ handle: row.handle as Handle, kind: "certificate", revokedSerial: row.serial })
        }
        return fresh
      })
      let seen = yield* Effect.orElseSucceed(dataVersion, () => undefined)
      // With `SyncWrites` this process commits through a second connection too, whose commits move the
      // client's `data_version` as another process's would. Another process's commit moves both
      // connections' versions; this process's moves only the other one's. So the feed tells `lost` once
      // both have moved since it last did (each move is remembered until then, so a commit landing
      // between the two reads is caught at the next poll). Its own commits on both connections pass too:
      // a `lost` too many, which costs caches a refill and misses nothing.
      const writer = Option.getOrUndefined(yield* Effect.serviceOption(SyncWrites))
      let byWriter = writer?.dataVersion()
      let clientMoved = false
      let writerMoved = writer === undefined
      /** Whether both connections' versions have moved since the last `lost`; `true` clears the record. */
      const bothMoved = (version: unknown): boolean => {
        if (version !== seen) clientMoved = true
        seen = version as typeof seen
        if (writer !== undefined) {
          const v = writer.dataVersion()
          if (v === undefined || v !== byWriter) writerMoved = true
          byWriter = v
        }
        if (!(clientMoved && writerMoved)) return false
        clientMoved = false
        writerMoved = writer === undefined
        return true
      }
      yield* Effect.orElseSucceed(newlyRevoked, () => [])
      const external = Effect.flatMap(newlyRevoked, (fresh) =>
        fresh.length === 0
          ? Effect.void
          : Effect.suspend(() => {
              tell(fresh)
              return PubSub.publishAll(pubsub, fresh)
            })
      )
      // On the wall clock (see `wallClockPause`): under `TestClock`, a test moving time by days would
      // otherwise run millions of polls.
      yield* wallClockPause(EXTERNAL_POLL_MS).pipe(
        Effect.zipRight(dataVersion),
        Effect.flatMap((version) => (bothMoved(version) ? Effect.zipRight(Effect.sync(lose), external) : Effect.void)),
        Effect.catchAll(() => Effect.void),
        Effect.forever,
        Effect.forkScoped
      )
      const noteRevoked = (changes: ReadonlyArray<RegistryChange>): void => {
        for (const change of changes) if (change.revokedSerial !== undefined) known.add(change.revokedSerial)
      }
      return {
        ...inProcess,
        afterCommit: (changes) =>
          Effect.suspend(() => {
            noteRevoked(changes)
            return inProcess.afterCommit(changes)
          }),
        afterCommitNow: (changes) => {
          noteRevoked(changes)
          inProcess.afterCommitNow(changes)
        }
      } satisfies ChangeFeed
    }

    const pg = yield* Effect.serviceOption(PgClient.PgClient)
    if (Option.isNone(pg)) {
      return yield* new RegistryError({
        reason: "Storage",
        message:
          "The registry on PostgreSQL needs the PgClient service for its change feed: build the client with PgLive.layer."
      })
    }
    const client = pg.value
    const rows = yield* sql<{ readonly schema: string | null }>`SELECT current_schema() AS schema`.pipe(
      Effect.mapError(
        (cause) =>
          new RegistryError({ reason: "Storage", message: "Could not read the PostgreSQL schema in use.", cause })
      )
    )
    const channel = channelFor(rows[0]?.schema ?? "public")
    // Not `PgClient.notify`: it sends `NOTIFY channel, $1`, and NOTIFY takes no bind parameters.
    const notify = (payload: string) => sql`SELECT pg_notify(${channel}, ${payload})`

    const ready = yield* Deferred.make<void>()
    yield* client.listen(channel).pipe(
      Stream.runForEach((payload) =>
        Deferred.succeed(ready, undefined).pipe(
          Effect.zipRight(
            Effect.suspend(() => {
              const changes = decodeChanges(payload)
              if (changes.length === 0) return Effect.void
              tell(changes)
              return PubSub.publishAll(pubsub, changes)
            })
          )
        )
      ),
      Effect.tapErrorCause((cause) =>
        Effect.zipRight(
          Effect.sync(lose),
          Effect.logWarning("IRP registry change feed: LISTEN failed; retrying", cause)
        )
      ),
      Effect.retry(Schedule.spaced("1 second")),
      Effect.forkScoped
    )
    // `listen` issues LISTEN in the background: notify ourselves until one comes back, so that the
    // feed is live when the layer is. Bounded, so a broken setup fails instead of hanging.
    const probe = (left: number): Effect.Effect<void, RegistryError> =>
      Effect.flatMap(Deferred.isDone(ready), (done) =>
        done
          ? Effect.void
          : left === 0
            ? Effect.fail(
                new RegistryError({
                  reason: "Storage",
                  message: `PostgreSQL LISTEN on channel ${channel} did not become active within ${(READY_PROBES * PROBE_PAUSE_MS) / 1000} s: check the database connection.`
                })
              )
            : notify(READY_PAYLOAD).pipe(
                Effect.catchAll(() => Effect.void),
                Effect.zipRight(Effect.raceFirst(Deferred.await(ready), wallClockPause(PROBE_PAUSE_MS))),
                Effect.zipRight(Effect.suspend(() => probe(left - 1)))
              )
      )
    yield* probe(READY_PROBES)

    return {
      ...base,
      // A transaction's changes (a batch of registrations has many) in as few notices as the payload limit
      // allows, sent by one statement whose text does not depend on their number (one prepared statement):
      // one round trip, and one notice for each process to decode.
      inTransaction: (changes) =>
        changes.length === 0
          ? Effect.void
          : Effect.asVoid(
              sql`SELECT pg_notify(${channel}, p)
                FROM json_array_elements_text(CAST(${JSON.stringify(noticePayloads(changes))} AS JSON)) AS p`
            ),
      // Our own notice comes back through LISTEN a little later (and feeds the subscribers then); the
      // synchronous listeners are told now too, so that this process reads its own writes at once.
      afterCommit: (changes) => Effect.sync(() => tell(changes)),
      afterCommitNow: tell
    }
  }
)
