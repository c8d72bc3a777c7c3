/**
 * `AgentStore` on SQLite: one file in the identity home (`H/agent.db` by convention), created with
 * mode 0600, WAL, `synchronous = FULL` for what must survive a power cut, one connection owned by the
 * agent process. See `database.ts` for the durability reasoning and `migrations.ts` for the layout.
 *
 *     const store = AgentStoreLive.layer(path.join(home, AgentStoreLive.DATABASE_FILE))
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, type Scope } from "effect"
import type { AgentStoreError } from "../../../domain/agent/errors.js"
import { defaultRetryPolicy, type RetryPolicy } from "../../../domain/agent/retry.js"
import { AgentStore, type AgentStoreService } from "../../../services/AgentStore.js"
import { makeBatchOps } from "./batches.js"
import { makeContactOps } from "./contacts.js"
import { makeStoreDb, sqliteLayer, storageError } from "./database.js"
import { makeDomainRootOps } from "./domainRoots.js"
import { makeMessageOps } from "./messages.js"
import { migrate } from "./migrations.js"
import { makeOutboxOps } from "./outbox.js"
import { defaultProgressPolicy, makeTransferOps, type ProgressPolicy } from "./transfers.js"

export { placeWithoutOverwrite, uniqueName } from "./files.js"
export type { ProgressPolicy } from "./transfers.js"

/** The database's file name inside the identity home. */
export const DATABASE_FILE = "agent.db"

export interface AgentStoreOptions {
  readonly retry?: Partial<RetryPolicy> | undefined
  readonly progress?: Partial<ProgressPolicy> | undefined
}

/**
 * The store over the `SqlClient` in context, which must be a SQLite client of its own (see
 * `database.ts`): sets the durability pragmas, migrates, and saves buffered transfer progress when
 * the scope closes.
 */
export const make = (
  options: AgentStoreOptions = {}
): Effect.Effect<AgentStoreService, AgentStoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* makeStoreDb
    yield* Effect.mapError(migrate, storageError)
    const transfers = yield* makeTransferOps(db, { ...defaultProgressPolicy, ...options.progress })
    return {
      ...makeContactOps(db),
      ...makeDomainRootOps(db),
      ...makeMessageOps(db),
      ...makeBatchOps(db),
      ...makeOutboxOps(db, { ...defaultRetryPolicy, ...options.retry }),
      ...transfers,
      subscribe: db.subscribe,
      changes: db.changes
    } satisfies AgentStoreService
  })

/** The store on the SQLite file at `file` (created 0600, directory 0700, if missing). */
export const layer = (file: string, options: AgentStoreOptions = {}): Layer.Layer<AgentStore, AgentStoreError> =>
  Layer.scoped(AgentStore, make(options)).pipe(Layer.provide(sqliteLayer(file)))
