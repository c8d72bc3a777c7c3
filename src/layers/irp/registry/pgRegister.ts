/**
 * A batch of registrations on PostgreSQL in few statements (issue 15). The portable path
 * (`registrations.ts`) runs three statements per registration (device count, conditional upsert,
 * bindings read) and one per advisory lock; each is a round trip to the database and a pass through
 * `@effect/sql` and `pg`, which cost the server more than the database's own work. Here a batch takes
 * one statement for its locks and one per wave: a wave is every registration of the batch whose handle
 * has not appeared in an earlier wave (with one device per client, the whole batch is one wave).
 *
 * A wave statement means what the three statements mean, for each of its registrations, inside the
 * batch's transaction and under its per-handle advisory locks: `others` counts the handle's other
 * unexpired devices as they were before the statement; the upsert runs only below the cap and only over a
 * smaller stored `seq`; the answer is the upserted row with the handle's other unexpired bindings. A
 * statement does not see what its own upsert wrote, which is why the upserted row comes from `RETURNING`
 * and the others from the table: together they are what a read after the upsert returns. Two
 * registrations of one handle never share a wave, so that the second sees the first (as it would one
 * statement later) and no row is upserted twice by one statement. `previous` (the stored `seq` before the
 * statement) names the stored value when an upsert was refused as stale.
 *
 * The registrations travel as one JSON parameter (`json_to_recordset`): one statement text whatever the
 * batch's size, so that it stays one prepared statement (`PgLive`).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Either } from "effect"
import { type Binding, RegistryError } from "../../../domain/irp/registry.js"
import type { RegisterRequest } from "../../../services/IrpRegistry.js"
import { LOCK_CLASS_HANDLE } from "./migrations.js"
import { addressesJson, addressJson, BINDING_COLUMNS, bindingsNow } from "./rows.js"
import type { Store } from "./store.js"

interface Job {
  readonly request: RegisterRequest
  readonly now: number
  readonly leaseMs: number
}

type Outcome = Either.Either<ReadonlyArray<Binding>, RegistryError>

/** The per-handle advisory locks of a batch, in the order given (key order), in one statement. */
export const pgLocks = ({ sql }: Store, keys: ReadonlyArray<number>) =>
  sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS_HANDLE}, k)
    FROM unnest(CAST(${`{${keys.join(",")}}`} AS INT4[])) AS k`

/** `jobs` split into waves: the n-th registration of each handle goes into the n-th wave. */
export const waves = <J extends { readonly request: { readonly handle: string } }>(
  jobs: ReadonlyArray<J>
): ReadonlyArray<ReadonlyArray<readonly [J, number]>> => {
  const seen = new Map<string, number>()
  const out: Array<Array<readonly [J, number]>> = []
  jobs.forEach((job, index) => {
    const wave = seen.get(job.request.handle) ?? 0
    seen.set(job.request.handle, wave + 1)
    if (out[wave] === undefined) out[wave] = []
    out[wave].push([job, index])
  })
  return out
}

interface WaveRow {
  readonly i: number | string
  readonly others: number | string
  readonly previous: string | null
  readonly stored: boolean
  readonly device_id: string | null
}

/**
 * A wave's statement over its registrations as a JSON list (`registerWave`).
 *
 * `LIMIT 1` on the stored seq's search (the key is unique: the same row) keeps it a search by key per
 * registration: flattened into a join, the generic plan hashed the whole of `irp_bindings` for every
 * wave (issue 15, docs/BENCHMARKS.md "sixth session"), as `pgIdentities.ts`'s read did.
 */
export const waveStatement = (sql: Store["sql"], rows: string, maxDevices: number) =>
  sql<WaveRow>`WITH job AS (
      SELECT * FROM json_to_recordset(CAST(${rows} AS JSON)) AS j(i INT4, handle TEXT, device_id TEXT,
        addresses TEXT, observed TEXT, expires_at BIGINT, seq BIGINT, now BIGINT)
    ), counted AS (
      SELECT j.*, (SELECT COUNT(*) FROM irp_bindings b
        WHERE b.handle = j.handle AND b.device_id <> j.device_id AND b.expires_at > j.now) AS others
      FROM job j
    ), stored AS (
      INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
      SELECT handle, device_id, addresses, observed, expires_at, seq, now FROM counted
      WHERE others < ${maxDevices}
      ON CONFLICT (handle, device_id) DO UPDATE SET
        addresses = excluded.addresses, observed = excluded.observed, expires_at = excluded.expires_at,
        seq = excluded.seq, updated_at = excluded.updated_at
      WHERE irp_bindings.seq < excluded.seq
      RETURNING handle, ${sql.literal(BINDING_COLUMNS)}
    )
    SELECT c.i, c.others, p.seq AS previous, s.handle IS NOT NULL AS stored, b.*
    FROM counted c
    LEFT JOIN stored s ON s.handle = c.handle
    LEFT JOIN LATERAL (SELECT CAST(seq AS TEXT) AS seq FROM irp_bindings
      WHERE handle = c.handle AND device_id = c.device_id LIMIT 1) p ON TRUE
    LEFT JOIN LATERAL (
      SELECT ${sql.literal(BINDING_COLUMNS)} FROM stored WHERE stored.handle = c.handle
      UNION ALL
      SELECT ${sql.literal(BINDING_COLUMNS)} FROM irp_bindings
      WHERE s.handle IS NOT NULL AND handle = c.handle AND device_id <> c.device_id AND expires_at > c.now
    ) b ON TRUE
    ORDER BY c.i, b.device_id`

/** Runs `jobs` (handles all different) in one statement; the outcomes in the order of `jobs`. */
const registerWave = ({ sql, policy }: Store, jobs: ReadonlyArray<Job>) => {
  const rows = JSON.stringify(
    jobs.map(({ request, now, leaseMs }, i) => ({
      i,
      handle: request.handle,
      device_id: request.deviceId,
      addresses: addressesJson(request.addresses),
      observed: addressJson(request.observed),
      expires_at: now + leaseMs,
      seq: String(request.seq),
      now
    }))
  )
  const statement = waveStatement(sql, rows, policy.maxDevicesPerHandle)
  // Decoded with plain calls (one `Effect` per wave, not per registration); a malformed stored row fails
  // the wave, and so the batch's transaction, as before.
  return Effect.flatMap(statement, (result): Effect.Effect<ReadonlyArray<Outcome>, RegistryError> => {
    const byJob = jobs.map((): Array<WaveRow> => [])
    for (const row of result) byJob[Number(row.i)]?.push(row)
    const outcomes: Array<Outcome> = []
    for (const [i, jobRows] of byJob.entries()) {
      const { handle, deviceId, seq } = jobs[i]!.request
      const first = jobRows[0]
      if (first?.stored === true) {
        const bindings = bindingsNow(jobRows)
        if (Either.isLeft(bindings)) return Effect.fail(bindings.left)
        outcomes.push(bindings)
        continue
      }
      const others = Number(first?.others ?? 0)
      outcomes.push(
        Either.left(
          others >= policy.maxDevicesPerHandle
            ? new RegistryError({
                reason: "TooManyDevices",
                message: `${handle} already has ${others} devices registered, the most allowed: deregister one first.`
              })
            : new RegistryError({
                reason: "StaleSequence",
                message:
                  `Registration seq ${seq} for device ${deviceId} is not greater than the stored ${first?.previous ?? "?"}` +
                  ": it is stale or replayed; send a larger seq (the device's clock in milliseconds will do)."
              })
        )
      )
    }
    return Effect.succeed(outcomes)
  })
}

/** Every registration of a batch, wave after wave; the outcomes in the order of `jobs`. */
export const pgRegisterAll =
  (store: Store) =>
  (jobs: ReadonlyArray<Job>): Effect.Effect<ReadonlyArray<Outcome>, SqlError | RegistryError> =>
    Effect.gen(function* () {
      const outcomes: Array<Outcome> = new Array(jobs.length)
      for (const wave of waves(jobs)) {
        const results = yield* registerWave(
          store,
          wave.map(([job]) => job)
        )
        wave.forEach(([, index], k) => {
          outcomes[index] = results[k]!
        })
      }
      return outcomes
    })
