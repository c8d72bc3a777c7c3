/**
 * SyncReads: synchronous reads on the embedded storage (the registry's hot read as a plain function call).
 * Implemented by `layers/sql/SyncReads.ts`, provided by `SqliteLive.layer` for files.
 */
import { Context } from "effect"

export interface SyncReadsService {
  /**
   * The rows of a read-only statement (`?` placeholders, `params` in order), as objects keyed by column
   * name. Throws on any failure (the caller falls back to its effectful path, which reports it).
   */
  readonly all: (sql: string, params: ReadonlyArray<unknown>) => ReadonlyArray<Record<string, unknown>>
  /**
   * The same rows as arrays of the column values in select-list order (`columns` names them): no object
   * per row, whose 15 properties the driver sets one by one (issue 15: ~3-4 µs of a Lookup's ~16-24 µs read).
   */
  readonly rows: (sql: string, params: ReadonlyArray<unknown>) => ReadonlyArray<ReadonlyArray<unknown>>
  /** The names of a read-only statement's result columns, in order. Throws as `all` does. */
  readonly columns: (sql: string) => ReadonlyArray<string>
}

export class SyncReads extends Context.Tag("sixchat/SyncReads")<SyncReads, SyncReadsService>() {}
