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
}

export class SyncReads extends Context.Tag("sixchat/SyncReads")<SyncReads, SyncReadsService>() {}
