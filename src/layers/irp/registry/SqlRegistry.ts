/**
 * `IrpRegistry` over `@effect/sql`'s `SqlClient`: one implementation for SQLite and PostgreSQL
 * (PROTOCOL.md §17; issue 3, section 3). It depends on `SqlClient` only (plus `PgClient` for the
 * change feed when the dialect is PostgreSQL, see `changes.ts`); the dialect differences are isolated
 * in `migrations.ts` (column types), `rows.ts` (value decoding), `changes.ts` (the feed) and the
 * per-handle lock below.
 *
 * Atomicity, which must hold across processes on PostgreSQL:
 * * a token is consumed by one conditional `UPDATE … WHERE used_at IS NULL … RETURNING`: concurrent
 *   updaters queue on the row lock and re-check the condition, so exactly one sees a row come back;
 * * a registration is one conditional upsert (`ON CONFLICT … DO UPDATE … WHERE stored.seq <
 *   excluded.seq`), so racing registrations for one device keep the highest `seq`; the device-cap
 *   count and the upsert run in one transaction under a per-handle advisory lock so that two new
 *   devices cannot both slip under the cap. SQLite has one connection per process and serialises
 *   every transaction anyway.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Deferred, Effect, Either, Encoding, Layer, Option, Queue } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { CertificateRecord, SerialHex, StatusAnswer } from "../../../domain/irp/certificates.js"
import {
  type Binding,
  checkLease,
  defaultLeasePolicy,
  type LeasePolicy,
  type RegistryChange,
  RegistryError
} from "../../../domain/irp/registry.js"
import { IrpRegistry, type IrpRegistryService, type RegisterRequest } from "../../../services/IrpRegistry.js"
import { SyncReads, type SyncReadsService } from "../../sql/SyncReads.js"
import { makeChangeFeed } from "./changes.js"
import { LOCK_CLASS_HANDLE, migrate } from "./migrations.js"
import {
  addressesJson,
  addressJson,
  BINDING_COLUMNS,
  CERTIFICATE_COLUMNS,
  countOf,
  decodeBindings,
  decodeCertificates,
  decodeIdentity,
  decodeRevoked,
  type IdentityRows,
  identityOf
} from "./rows.js"

export interface SqlRegistryOptions {
  readonly policy?: Partial<LeasePolicy> | undefined
}

/**
 * Group commit of registrations (issue 15): the registrations waiting when a transaction starts share it,
 * up to this many, so that a burst costs one durable commit (one WAL sync on SQLite, one WAL flush on
 * PostgreSQL) and one transaction's statements around them instead of one each.
 */
const REGISTER_BATCH = 64
/**
 * Transactions of registrations running at once: one on SQLite (its single connection serialises them
 * anyway), a few on PostgreSQL, whose pool can run them side by side (their per-handle advisory locks are
 * taken in key order, so two batches cannot deadlock).
 */
const REGISTER_WRITERS = { sqlite: 1, pg: 4 } as const

interface PendingRegistration {
  readonly request: RegisterRequest
  readonly now: number
  readonly leaseMs: number
  readonly done: Deferred.Deferred<ReadonlyArray<Binding>, RegistryError>
}

const storageError = (cause: SqlError) => {
  const driver = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return new RegistryError({
    reason: "Storage",
    message: `The registry database failed (${cause.message.trim()}${driver}); check that it is reachable and writable.`,
    cause
  })
}

const fail = (reason: RegistryError["reason"], message: string) => Effect.fail(new RegistryError({ reason, message }))

/** 32-bit FNV-1a of a handle, as a signed int4: the second key of the per-handle advisory lock. */
const handleLockKey = (handle: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < handle.length; i++) h = Math.imul(h ^ handle.charCodeAt(i), 0x01000193)
  return h | 0
}

/**
 * `currentIdentityNow` over `SyncReads`: the effectful path's own statement, compiled once to its text. Its
 * bound values' order is checked once with sentinels, so a change to the statement cannot silently bind
 * them wrongly: the synchronous path is then left out and every Lookup takes the effectful one.
 */
const syncIdentity = (
  reads: SyncReadsService | undefined,
  compile: (handle: Handle, at: number) => readonly [string, ReadonlyArray<unknown>]
): IrpRegistryService["currentIdentityNow"] => {
  if (reads === undefined) return undefined
  const HANDLE = "\u0000handle" as Handle
  const AT = -424242
  const [text, params] = compile(HANDLE, AT)
  if (params.length !== 3 || params[0] !== AT || params[1] !== HANDLE || params[2] !== AT) return undefined
  return ({ handle, now }): IdentityRows | undefined => {
    const at = Math.floor(now)
    try {
      return identityOf(reads.all(text, [at, handle, at]))
    } catch {
      return undefined
    }
  }
}

export const make = (options: SqlRegistryOptions = {}) =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* Effect.mapError(migrate, storageError)
    const feed = yield* makeChangeFeed
    const policy: LeasePolicy = { ...defaultLeasePolicy, ...options.policy }

    /** Runs `body` in a transaction, announces its changes, maps driver failures to `Storage`. */
    const write = <A>(
      body: Effect.Effect<readonly [A, ReadonlyArray<RegistryChange>], RegistryError | SqlError>
    ): Effect.Effect<A, RegistryError> =>
      sql.withTransaction(Effect.tap(body, ([, changes]) => feed.inTransaction(changes))).pipe(
        Effect.tap(([, changes]) => feed.afterCommit(changes)),
        Effect.map(([result]) => result),
        Effect.catchTag("SqlError", (e) => Effect.fail(storageError(e)))
      )
    const read = <A>(query: Effect.Effect<A, RegistryError | SqlError>): Effect.Effect<A, RegistryError> =>
      Effect.catchTag(query, "SqlError", (e) => Effect.fail(storageError(e)))

    /** Number of rows a statement changed (`.raw` is the driver's own result object). */
    const affected = (raw: unknown): number =>
      typeof raw === "object" && raw !== null
        ? Number(("rowCount" in raw ? raw.rowCount : "changes" in raw ? raw.changes : 0) ?? 0)
        : 0

    /**
     * Bound values in the read statements' search conditions go through a CAST. SQLite builds with
     * STAT4 (better-sqlite3's do) re-plan a statement whenever a bound value the planner estimated from
     * the `sqlite_stat4` samples changes — once `ANALYZE` (or `PRAGMA optimize`) has run, that is every
     * Lookup, and the re-preparation tripled its cost (55-65 µs against 21 µs, measured). A CAST makes
     * the value opaque to that estimate; the plan (the same index searches) does not depend on it.
     * BIGINT: timestamps in milliseconds exceed PostgreSQL's INTEGER.
     */
    const text = (value: string) => sql`CAST(${value} AS TEXT)`
    const millis = (value: number) => sql`CAST(${value} AS BIGINT)`

    const selectBindings = (handle: Handle, now: number) =>
      Effect.flatMap(
        sql`SELECT ${sql.literal(BINDING_COLUMNS)} FROM irp_bindings
            WHERE handle = ${text(handle)} AND expires_at > ${millis(now)} ORDER BY device_id`,
        decodeBindings
      )

    const selectCertificate = (serial: SerialHex) =>
      Effect.flatMap(
        sql`SELECT ${sql.literal(CERTIFICATE_COLUMNS)} FROM irp_certificates WHERE serial = ${text(serial)}`,
        decodeCertificates
      ).pipe(Effect.map((records) => records[0]))

    // One statement instead of `currentCertificate` then `lookup`: every statement costs @effect/sql's
    // compile, span and connection scope, more than SQLite's own work. Bindings ride on the certificate
    // row (a left join), so there are none without a current certificate, as the port says. Written as
    // `serial = (subquery)` so that both tables are read by key and in order (no temporary B-tree).
    const identityStatement = (handle: Handle, at: number) =>
      sql`SELECT c.serial, c.handle, c.fingerprint, c.der, c.not_before, c.not_after, c.status, c.revoked_at,
          c.reason, b.device_id, b.addresses, b.observed, b.expires_at, CAST(b.seq AS TEXT) AS seq, b.updated_at
        FROM irp_certificates c LEFT JOIN irp_bindings b ON b.handle = c.handle AND b.expires_at > ${millis(at)}
        WHERE c.serial = (SELECT serial FROM irp_certificates
          WHERE handle = ${text(handle)} AND status = 'good' AND not_after > ${millis(at)}
          ORDER BY not_before DESC, serial DESC LIMIT 1)
        ORDER BY b.device_id`
    const currentIdentityNow = syncIdentity(Option.getOrUndefined(yield* Effect.serviceOption(SyncReads)), (h, at) =>
      identityStatement(h, at).compile()
    )

    /**
     * One registration inside a batch's transaction: the device cap, the conditional upsert, the bindings
     * it leaves. A refusal (cap, stale seq) writes nothing, so it is this registration's answer and the
     * batch goes on; a driver failure fails the whole batch.
     */
    const registerOne = ({ request, now, leaseMs }: PendingRegistration) =>
      Effect.gen(function* () {
        const { handle, deviceId, addresses, seq, observed } = request
        const others = countOf(
          yield* sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM irp_bindings
            WHERE handle = ${text(handle)} AND device_id <> ${text(deviceId)} AND expires_at > ${millis(now)}`
        )
        if (others >= policy.maxDevicesPerHandle) {
          return yield* fail(
            "TooManyDevices",
            `${handle} already has ${others} devices registered, the most allowed: deregister one first.`
          )
        }
        const stored = yield* sql`INSERT INTO irp_bindings
            (handle, device_id, addresses, observed, expires_at, seq, updated_at)
          VALUES (${handle}, ${deviceId}, ${addressesJson(addresses)}, ${addressJson(observed)},
            ${now + leaseMs}, ${seq}, ${now})
          ON CONFLICT (handle, device_id) DO UPDATE SET
            addresses = excluded.addresses, observed = excluded.observed, expires_at = excluded.expires_at,
            seq = excluded.seq, updated_at = excluded.updated_at
          WHERE irp_bindings.seq < excluded.seq
          RETURNING device_id`
        if (stored.length === 0) {
          const current = yield* sql<{ readonly seq: string }>`SELECT CAST(seq AS TEXT) AS seq
            FROM irp_bindings WHERE handle = ${handle} AND device_id = ${deviceId}`
          return yield* fail(
            "StaleSequence",
            `Registration seq ${seq} for device ${deviceId} is not greater than the stored ${current[0]?.seq ?? "?"}` +
              ": it is stale or replayed; send a larger seq (the device's clock in milliseconds will do)."
          )
        }
        return yield* selectBindings(handle, now)
      }).pipe(
        Effect.map((bindings) => Either.right<ReadonlyArray<Binding>>(bindings)),
        Effect.catchTag("RegistryError", (refusal) => Effect.succeed(Either.left(refusal)))
      )

    /** Runs `jobs` in one transaction and answers each (all of them with the failure if the batch fails). */
    const registerBatch = (jobs: ReadonlyArray<PendingRegistration>) => {
      // Advisory locks in key order, each once: batches running side by side cannot wait on each other in a cycle.
      const keys = [...new Set(jobs.map((job) => handleLockKey(job.request.handle)))].sort((a, b) => a - b)
      const locks = sql.onDialectOrElse({
        pg: () =>
          Effect.forEach(keys, (key) => sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS_HANDLE}, ${key})`, {
            discard: true
          }),
        orElse: () => Effect.void
      })
      return write(
        Effect.gen(function* () {
          yield* locks
          const outcomes: Array<Either.Either<ReadonlyArray<Binding>, RegistryError>> = []
          const changes: Array<RegistryChange> = []
          for (const job of jobs) {
            const outcome = yield* registerOne(job)
            outcomes.push(outcome)
            if (Either.isRight(outcome)) changes.push({ handle: job.request.handle, kind: "bindings" })
          }
          return [outcomes, changes] as const
        })
      ).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.forEach(jobs, (job) => Deferred.fail(job.done, error), { discard: true }),
          onSuccess: (outcomes) =>
            Effect.forEach(jobs, (job, i) => Deferred.complete(job.done, outcomes[i]!), { discard: true })
        })
      )
    }
    const registrations = yield* Effect.acquireRelease(Queue.unbounded<PendingRegistration>(), Queue.shutdown)
    /**
     * A batch starts once the event loop has read every socket that is ready (`setImmediate` runs after
     * that phase): SQLite commits synchronously, so a writer that started at the first registration would
     * block the loop before the others arrived, and every batch would be one registration.
     */
    const afterReadyInput = Effect.async<void>((resume) => {
      const timer = setImmediate(() => resume(Effect.void))
      return Effect.sync(() => clearImmediate(timer))
    })
    const writers = sql.onDialectOrElse({ pg: () => REGISTER_WRITERS.pg, orElse: () => REGISTER_WRITERS.sqlite })
    for (let i = 0; i < writers; i++)
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(registrations), (first) =>
            Effect.flatMap(
              Effect.zipRight(afterReadyInput, Queue.takeUpTo(registrations, REGISTER_BATCH - 1)),
              (more) => registerBatch([first, ...more])
            )
          )
        )
      )

    const service: IrpRegistryService = {
      createToken: Effect.fn("IrpRegistry.createToken")(function* ({ handle, tokenHash, expiresAt }) {
        const rows = yield* read(sql`INSERT INTO irp_tokens (token_hash, handle, expires_at, used_at)
          VALUES (${Encoding.encodeHex(tokenHash)}, ${handle}, ${Math.floor(expiresAt)}, NULL)
          ON CONFLICT (token_hash) DO NOTHING RETURNING token_hash`)
        if (rows.length === 0) yield* fail("Conflict", "This enrolment token already exists: draw a new one.")
      }),

      consumeToken: Effect.fn("IrpRegistry.consumeToken")(function* ({ tokenHash, handle, now: at }) {
        const hash = Encoding.encodeHex(tokenHash)
        const now = Math.floor(at)
        const won = yield* read(sql`UPDATE irp_tokens SET used_at = ${now}
          WHERE token_hash = ${hash} AND handle = ${handle} AND used_at IS NULL AND expires_at > ${now}
          RETURNING handle`)
        if (won.length > 0) return handle
        // Lost: say why, from what is stored now.
        const rows = yield* read(
          sql<{
            readonly handle: string
            readonly expires_at: number | string
            readonly used_at: number | string | null
          }>`SELECT handle, expires_at, used_at FROM irp_tokens WHERE token_hash = ${hash}`
        )
        const token = rows[0]
        if (token === undefined) {
          return yield* fail(
            "TokenNotFound",
            "This enrolment token is not known: check that it was copied whole, or ask the operator for a new one."
          )
        }
        if (token.used_at !== null) {
          return yield* fail("TokenUsed", "This enrolment token was already used: ask the operator for a new one.")
        }
        if (Number(token.expires_at) <= now) {
          return yield* fail("TokenExpired", "This enrolment token has expired: ask the operator for a new one.")
        }
        return yield* fail(
          "TokenWrongHandle",
          "This enrolment token was issued for another handle: enrol with the handle it was issued for."
        )
      }),

      recordCertificate: Effect.fn("IrpRegistry.recordCertificate")(function* (record: CertificateRecord) {
        yield* write(
          Effect.gen(function* () {
            const rows = yield* sql`INSERT INTO irp_certificates
                (serial, handle, fingerprint, der, not_before, not_after, status, revoked_at, reason)
              VALUES (${record.serial}, ${record.handle}, ${record.fingerprint}, ${record.der},
                ${Math.floor(record.notBefore)}, ${Math.floor(record.notAfter)}, ${record.status},
                ${record.revokedAt === undefined ? null : Math.floor(record.revokedAt)}, ${record.reason ?? null})
              ON CONFLICT (serial) DO NOTHING RETURNING serial`
            if (rows.length === 0) {
              return yield* fail("Conflict", `A certificate with serial ${record.serial} is already recorded.`)
            }
            return [undefined, [{ handle: record.handle, kind: "certificate" }]] as const
          })
        )
      }),

      certificateBySerial: Effect.fn("IrpRegistry.certificateBySerial")(function* (serial) {
        return yield* read(selectCertificate(serial))
      }),

      // `currentCertificate` and `lookup` answer every Lookup, so they are left untraced (no `Effect.fn`):
      // its span and call-site capture cost ~10 µs a call, a fifth of the read itself (docs/BENCHMARKS.md).
      currentCertificate: ({ handle, now }) =>
        read(
          Effect.flatMap(
            sql`SELECT ${sql.literal(CERTIFICATE_COLUMNS)} FROM irp_certificates
              WHERE handle = ${text(handle)} AND status = 'good' AND not_after > ${millis(Math.floor(now))}
              ORDER BY not_before DESC, serial DESC LIMIT 1`,
            decodeCertificates
          )
        ).pipe(Effect.map((records) => records[0])),

      // The same statement, run synchronously where the storage offers it (SQLite; see `syncIdentity`).
      currentIdentity: ({ handle, now }) =>
        read(Effect.flatMap(identityStatement(handle, Math.floor(now)), decodeIdentity)),

      ...(currentIdentityNow === undefined ? {} : { currentIdentityNow }),

      revoke: Effect.fn("IrpRegistry.revoke")(function* ({ serial, reason, at }) {
        return yield* write(
          Effect.gen(function* () {
            const changed = yield* sql`UPDATE irp_certificates
              SET status = 'revoked', revoked_at = ${Math.floor(at)}, reason = ${reason}
              WHERE serial = ${serial} AND status = 'good' RETURNING serial`
            const record = yield* selectCertificate(serial)
            if (record === undefined) {
              return yield* fail("NotFound", `No certificate with serial ${serial} was issued here: check the serial.`)
            }
            const changes: ReadonlyArray<RegistryChange> =
              changed.length > 0 ? [{ handle: record.handle, kind: "certificate", revokedSerial: record.serial }] : []
            return [record, changes] as const
          })
        )
      }),

      revokeHandle: Effect.fn("IrpRegistry.revokeHandle")(function* ({ handle, reason, at }) {
        return yield* write(
          Effect.gen(function* () {
            const records = yield* Effect.flatMap(
              sql`UPDATE irp_certificates SET status = 'revoked', revoked_at = ${Math.floor(at)}, reason = ${reason}
                WHERE handle = ${handle} AND status = 'good' RETURNING ${sql.literal(CERTIFICATE_COLUMNS)}`,
              decodeCertificates
            )
            const changes: ReadonlyArray<RegistryChange> = records.map((r) => ({
              handle,
              kind: "certificate",
              revokedSerial: r.serial
            }))
            return [records, changes] as const
          })
        )
      }),

      revokedCertificates: Effect.fn("IrpRegistry.revokedCertificates")(function* () {
        return yield* read(
          Effect.flatMap(
            sql`SELECT serial, handle, revoked_at, reason FROM irp_certificates
              WHERE status = 'revoked' ORDER BY revoked_at, serial`,
            decodeRevoked
          )
        )
      }),

      status: Effect.fn("IrpRegistry.status")(function* (serial) {
        const record = yield* read(selectCertificate(serial))
        if (record === undefined) return { serial, status: "unknown" } satisfies StatusAnswer
        if (record.status === "good") return { serial, status: "good" } satisfies StatusAnswer
        return {
          serial,
          status: "revoked",
          revokedAt: record.revokedAt ?? 0,
          reason: record.reason ?? "unspecified"
        } satisfies StatusAnswer
      }),

      register: Effect.fn("IrpRegistry.register")(function* (request) {
        const lease = checkLease(policy, request.ttlSeconds)
        if (Either.isLeft(lease)) return yield* lease.left
        const done = yield* Deferred.make<ReadonlyArray<Binding>, RegistryError>()
        yield* Queue.offer(registrations, { request, now: Math.floor(request.now), leaseMs: lease.right, done })
        return yield* Deferred.await(done)
      }),

      deregister: Effect.fn("IrpRegistry.deregister")(function* ({ handle, deviceId, now: at }) {
        const now = Math.floor(at)
        return yield* write(
          Effect.gen(function* () {
            // The row stays, expired, so that its seq still refuses replays (see LeasePolicy).
            const ended = yield* sql`UPDATE irp_bindings SET expires_at = ${now}, updated_at = ${now}
              WHERE handle = ${handle} AND expires_at > ${now}
              ${deviceId === "all" ? sql.literal("") : sql`AND device_id = ${deviceId}`}
              RETURNING device_id`
            const changes: ReadonlyArray<RegistryChange> = ended.length > 0 ? [{ handle, kind: "bindings" }] : []
            return [ended.length, changes] as const
          })
        )
      }),

      lookup: ({ handle, now }) => read(selectBindings(handle, Math.floor(now))),

      purgeExpired: Effect.fn("IrpRegistry.purgeExpired")(function* (at) {
        const now = Math.floor(at)
        const horizon = now - Math.floor(policy.retainExpiredSeconds * 1000)
        const bindings = yield* read(sql`DELETE FROM irp_bindings WHERE expires_at <= ${horizon}`.raw)
        const tokens = yield* read(sql`DELETE FROM irp_tokens WHERE expires_at <= ${now} OR used_at IS NOT NULL`.raw)
        return { bindings: affected(bindings), tokens: affected(tokens) }
      }),

      subscribe: feed.subscribe,
      changes: feed.changes,
      onChange: feed.onChange
    }
    return service
  })

/** The registry with the default lease policy; needs a `SqlClient` (and `PgClient` on PostgreSQL). */
export const layer = Layer.scoped(IrpRegistry, make())

export const layerWith = (options: SqlRegistryOptions) => Layer.scoped(IrpRegistry, make(options))
