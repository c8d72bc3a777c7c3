/**
 * SyncWrites: synchronous write transactions on the embedded storage (issue 15): a batch of the registry's
 * hot write (registrations) run as plain function calls inside one durable transaction, with none of the
 * per-statement machinery of an effectful client. Implemented by `layers/sql/SyncWrites.ts`, provided by
 * `SqliteLive.layer` for files.
 */
import { Context, type Either } from "effect"

/** What a transaction's body runs its statements with (`?` placeholders, `params` in order). */
export interface SyncStatements {
  /** The rows a statement returns (a write with `RETURNING` included), as objects keyed by column name. */
  readonly all: (sql: string, params: ReadonlyArray<unknown>) => ReadonlyArray<Record<string, unknown>>
}

/**
 * Why a transaction did not commit. `Busy`: another connection held the write lock and nothing was
 * written (the caller tries again a little later, without blocking, for up to `busyTimeoutMs`);
 * `Failed`: the body or the driver threw, everything was rolled back.
 */
export type SyncWriteFailure = { readonly _tag: "Busy" } | { readonly _tag: "Failed"; readonly cause: unknown }

export interface SyncWritesService {
  /**
   * Runs `body` in one write transaction (taken at once, `BEGIN IMMEDIATE`) and commits it durably (the
   * storage's `synchronous` setting), all before returning; rolled back if `body` throws.
   */
  readonly transaction: <A>(body: (statements: SyncStatements) => A) => Either.Either<A, SyncWriteFailure>
  /**
   * The writer connection's `PRAGMA data_version`, which moves with every commit made through any other
   * connection of the file (this process's effectful client included), never with its own.
   */
  readonly dataVersion: () => number | undefined
  /** How long a caller should keep trying again after `Busy` (the storage's busy timeout), ms. */
  readonly busyTimeoutMs: number
}

export class SyncWrites extends Context.Tag("sixchat/SyncWrites")<SyncWrites, SyncWritesService>() {}
