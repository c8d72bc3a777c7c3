/**
 * `IrpRegistry` over `@effect/sql`'s `SqlClient`: one implementation for SQLite and PostgreSQL
 * (PROTOCOL.md §17; issue 3, section 3). It depends on `SqlClient` only (plus `PgClient` for the
 * change feed when the dialect is PostgreSQL, see `changes.ts`); the dialect differences are isolated
 * in `migrations.ts` (column types), `rows.ts` (value decoding), `changes.ts` (the feed) and the
 * per-handle lock of `registrations.ts`.
 *
 * One file per protocol step, each built on `store.ts` (client, policy, transactions): `tokens.ts`
 * (enrolment tokens), `certificates.ts` (issued certificates, revocation, status, the Lookup read),
 * `bindings.ts` (register, deregister, lookup) with its group-commit writers in `registrations.ts`.
 *
 * Atomicity, which must hold across processes on PostgreSQL, is argued in `tokens.ts` (a token is
 * consumed once) and `registrations.ts` (the highest `seq` wins, the device cap holds).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { defaultLeasePolicy, type LeasePolicy } from "../../../domain/irp/registry.js"
import { IrpRegistry, type IrpRegistryService } from "../../../services/IrpRegistry.js"
import { makeBindings, purgeBindings } from "./bindings.js"
import { makeCertificates } from "./certificates.js"
import { makeChangeFeed } from "./changes.js"
import { migrate } from "./migrations.js"
import { affected, makeStore, storageError } from "./store.js"
import { makeTokens, purgeTokens } from "./tokens.js"

export interface SqlRegistryOptions {
  readonly policy?: Partial<LeasePolicy> | undefined
}

export const make = (options: SqlRegistryOptions = {}) =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* Effect.mapError(migrate, storageError)
    const feed = yield* makeChangeFeed
    const store = makeStore(sql, feed, { ...defaultLeasePolicy, ...options.policy })

    const service: IrpRegistryService = {
      ...makeTokens(store),
      ...(yield* makeCertificates(store)),
      ...(yield* makeBindings(store)),

      purgeExpired: Effect.fn("IrpRegistry.purgeExpired")(function* (at) {
        const now = Math.floor(at)
        const bindings = yield* purgeBindings(store, now)
        const tokens = yield* purgeTokens(store, now)
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
