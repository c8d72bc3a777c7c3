/**
 * The shared storage (issue 3, section 3): PostgreSQL through `@effect/sql-pg`, which several IRP
 * server processes can use at once. Exposed as `PgClient` (whose `listen` carries the registry's
 * change feed between processes) and as `SqlClient`.
 *
 * Statements with bound values run as named prepared statements (issue 15): `@effect/sql-pg` hands
 * `pg` the text and the values, which `pg` sends as an unnamed statement, so PostgreSQL parsed and
 * planned every Lookup and every statement of a registration again. The pool's connections here are
 * a `pg.Client` that names each distinct statement text (`preparingClient`): the first use on a
 * connection parses it, later ones only bind and execute (measured in docs/BENCHMARKS.md). Statements
 * without values (`BEGIN`, `COMMIT`, migrations) keep the simple protocol.
 */
import { createRequire } from "node:module"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Effect, Layer, Redacted } from "effect"
import { PgReads } from "../../services/PgReads.js"
import * as PgReadsLive from "./PgReads.js"

export interface PgLiveOptions {
  /** Pool size (default 10). A `LISTEN` connection comes on top of it. */
  readonly maxConnections?: number | undefined
  /** Use this schema (`search_path`) instead of the role's default, e.g. to isolate test runs. */
  readonly schema?: string | undefined
  readonly applicationName?: string | undefined
  /** How long to wait for the first connection (default 5 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/** A PostgreSQL identifier we are willing to put into a connection option unquoted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * `url` with `options=-c search_path=<schema>`, sent at connection start-up so that every pooled
 * connection (and the LISTEN one) uses it; `undefined` when the schema name or the URL is unusable.
 */
export const withSearchPath = (url: string, schema: string): string | undefined => {
  if (!SCHEMA_NAME.test(schema) || !URL.canParse(url)) return undefined
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
}

/**
 * Distinct statement texts a pool prepares by name. The registry runs a few dozen (a batch's change
 * notices make one text per batch size); texts beyond this many (none expected) run unnamed, so that a
 * caller building ever-new texts cannot grow every server session's prepared statements without bound.
 */
export const MAX_PREPARED = 256

/**
 * How long an idle pooled connection stays open (`pg.Pool`'s default is 10 s). A new connection costs a
 * start-up and the preparation of every statement again, and under steady load the pool's last-used-first
 * order leaves some connections idle long enough to be closed and reopened again and again.
 */
const IDLE_TIMEOUT_MS = 5 * 60_000

/** The part of `pg` used here (`pg` ships no type declarations; `@effect/sql-pg` loads the same module). */
type QueryCallback = (err: Error | null | undefined, result: unknown) => void
interface PgClientInstance {
  query(config: unknown, values?: unknown, callback?: QueryCallback): unknown
}
type PgClientClass = new (options: unknown) => PgClientInstance
interface PgPool extends PgReadsLive.PgReadPool {
  readonly options: Record<string, unknown>
  on(event: "error", listener: (err: Error) => void): unknown
  query(text: string): Promise<unknown>
  end(): Promise<void>
}
interface PgModule {
  readonly Client: PgClientClass
  readonly Pool: new (options: Record<string, unknown>) => PgPool
}
const Pg = createRequire(import.meta.url)("pg") as PgModule

/**
 * A `pg.Client` that runs every statement with bound values as a named prepared statement, one name per
 * distinct text (shared by the pool's connections; each prepares it on its first use). `pg` keeps,
 * per connection, which names it has prepared, and forgets a name whose preparation failed.
 */
export const preparingClient = (maxPrepared: number = MAX_PREPARED): PgClientClass => {
  const names = new Map<string, string>()
  const nameOf = (text: string): string | undefined => {
    const known = names.get(text)
    if (known !== undefined || names.size >= maxPrepared) return known
    const name = `sixchat_${names.size + 1}`
    names.set(text, name)
    return name
  }
  return class PreparingClient extends Pg.Client {
    override query(config: unknown, values?: unknown, callback?: QueryCallback): unknown {
      if (typeof config === "string" && Array.isArray(values) && values.length > 0) {
        const name = nameOf(config)
        if (name !== undefined) return super.query({ name, text: config, values }, undefined, callback)
      }
      return super.query(config, values, callback)
    }
  }
}

/**
 * A pooled client for `url` (`postgres://user@host:port/database`); the password, if any, stays redacted.
 * `PgReads` runs the registry's hot read on the same pool (`PgReads.ts`).
 */
export const layer = (
  url: string | Redacted.Redacted<string>,
  options: PgLiveOptions = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | PgReads, SqlError> => {
  const plain = typeof url === "string" ? url : Redacted.value(url)
  const effective = options.schema === undefined ? plain : withSearchPath(plain, options.schema)
  if (effective === undefined) {
    return Layer.fail(
      new SqlError({
        message: `Cannot use PostgreSQL schema ${JSON.stringify(options.schema)}: use lower-case letters, digits and _.`
      })
    )
  }
  const connectTimeout = Duration.decode(options.connectTimeout ?? Duration.seconds(5))
  // What `PgClient.layer` does with its own pool (connect check within the timeout, end on release),
  // with the preparing client class.
  const acquire = Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new Pg.Pool({
        connectionString: effective,
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis: Duration.toMillis(connectTimeout),
        idleTimeoutMillis: IDLE_TIMEOUT_MS,
        application_name: options.applicationName ?? "sixchat-irp",
        Client: preparingClient()
      })
      // Idle connections that fail are dropped by the pool; the error is the next checkout's to report.
      pool.on("error", () => {})
      return pool
    }),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
  ).pipe(
    Effect.tap((pool) =>
      Effect.tryPromise({
        try: () => pool.query("SELECT 1"),
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      }).pipe(
        Effect.timeoutFail({
          duration: connectTimeout,
          onTimeout: () =>
            new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: Connection timed out" })
        })
      )
    )
  )
  // One pool for both: `@effect/sql-pg`'s client and `PgReads` (the pool ends with this layer's scope).
  return Layer.unwrapScoped(
    Effect.map(acquire, (pool) =>
      Layer.merge(
        PgClient.layerFromPool({
          acquire: Effect.succeed(pool),
          applicationName: options.applicationName ?? "sixchat-irp"
        }),
        Layer.succeed(PgReads, PgReadsLive.make(pool))
      )
    )
  )
}
