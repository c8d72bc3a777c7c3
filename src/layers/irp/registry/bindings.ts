/**
 * Device bindings in the SQL registry (PROTOCOL.md §17): register (through the group-commit writers of
 * `registrations.ts`), deregister, lookup, and the purge of long-expired rows.
 */
import { Effect, Either } from "effect"
import type { Handle } from "../../../domain/brands.js"
import { checkLease, type RegistryChange } from "../../../domain/irp/registry.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import { startRegistrations } from "./registrations.js"
import { BINDING_COLUMNS, decodeBindings } from "./rows.js"
import type { Store } from "./store.js"

/** The binding methods; starts the registration writers, which the enclosing scope stops. */
export const makeBindings = (store: Store) =>
  Effect.gen(function* () {
    const { sql, policy, write, read, text, millis } = store
    const bindingsStatement = (handle: Handle, now: number) =>
      sql`SELECT ${sql.literal(BINDING_COLUMNS)} FROM irp_bindings
          WHERE handle = ${text(handle)} AND expires_at > ${millis(now)} ORDER BY device_id`
    const selectBindings = (handle: Handle, now: number) =>
      Effect.flatMap(bindingsStatement(handle, now), decodeBindings)
    const registered = yield* startRegistrations(store, bindingsStatement)

    const methods: Pick<IrpRegistryService, "register" | "deregister" | "lookup"> = {
      // Untraced: every device renews its lease through it (issue 15), and a span per call costs more
      // than the rest of this method; the server's request log records each registration.
      register: (request) => {
        const lease = checkLease(policy, request.ttlSeconds)
        if (Either.isLeft(lease)) return Effect.fail(lease.left)
        return registered({ request, now: Math.floor(request.now), leaseMs: lease.right })
      },

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

      // Untraced: it answers Lookups (see `currentCertificate`).
      lookup: ({ handle, now }) => read(selectBindings(handle, Math.floor(now)))
    }
    return methods
  })

/** Deletes bindings expired for longer than the policy retains them (their seq no longer guards replays). */
export const purgeBindings = ({ sql, policy, read }: Store, now: number) =>
  read(sql`DELETE FROM irp_bindings WHERE expires_at <= ${now - Math.floor(policy.retainExpiredSeconds * 1000)}`.raw)
