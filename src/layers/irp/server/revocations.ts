/**
 * The server's in-memory view of revoked certificates (PROTOCOL.md §§13 and 17). It feeds the
 * `RevocationSource` of the server's own `CertVerifier`, so a revoked holder's handshake is refused, and
 * lets every request of an already established connection be refused at once after a revocation.
 *
 * Revocation is final (no certificateHold), so the view only grows: a reload is merged into what is
 * known, never replaces it, and a reload racing with a local `Revoke` cannot lose that revocation.
 * Reloads are coalesced and triggered by the registry's change feed (`kind: "certificate"`, which on
 * PostgreSQL includes other server processes), by its `lost` notice (another process wrote to the SQLite
 * file: `sixchat irp revoke`) and, as a safety net, every `refreshEvery`.
 */
import { type Duration, Effect, Queue, type Scope } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { RevocationSource } from "../../../domain/cert/verify.js"
import type { RevokedEntry, SerialHex } from "../../../domain/irp/certificates.js"
import type { RegistryError } from "../../../domain/irp/registry.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"

export interface Revocations {
  /** For the CertVerifier: our CA issues under one issuing CA, so the serial alone decides. */
  readonly source: RevocationSource
  readonly isRevoked: (serial: string) => boolean
  /** The revocation of `serial`, when known. */
  readonly entry: (serial: string) => RevokedEntry | undefined
  /** The handle's most recently revoked certificate, if any. */
  readonly latestRevokedOf: (handle: Handle) => RevokedEntry | undefined
  /** Records revocations this process just made (visible at once, before any reload). */
  readonly note: (entries: ReadonlyArray<RevokedEntry>) => void
  /** Grows whenever the known set grows (the CRL cache keys on it). */
  readonly version: () => number
  /** Asks for a reload (coalesced). */
  readonly refresh: Effect.Effect<void>
  /** Reloads now (for a reader that must see a revocation another process just announced). */
  readonly reload: Effect.Effect<void, RegistryError>
}

export const make = (
  registry: IrpRegistryService,
  refreshEvery: Duration.DurationInput
): Effect.Effect<Revocations, RegistryError, Scope.Scope> =>
  Effect.gen(function* () {
    const bySerial = new Map<string, RevokedEntry>()
    const byHandle = new Map<Handle, RevokedEntry>()
    let version = 0

    const note = (entries: ReadonlyArray<RevokedEntry>): void => {
      let grew = false
      for (const entry of entries) {
        if (bySerial.has(entry.serial)) continue
        bySerial.set(entry.serial, entry)
        const latest = byHandle.get(entry.handle)
        if (latest === undefined || latest.revokedAt <= entry.revokedAt) byHandle.set(entry.handle, entry)
        grew = true
      }
      if (grew) version++
    }

    const load = Effect.map(registry.revokedCertificates(), note)
    yield* load

    const wake = yield* Queue.sliding<void>(1)
    const refresh = Effect.asVoid(Queue.offer(wake, undefined))
    yield* Queue.take(wake).pipe(
      Effect.zipRight(load),
      Effect.catchAll((e) => Effect.logWarning(`IRP revocation list reload failed: ${e.message}`)),
      Effect.forever,
      Effect.forkScoped
    )
    // A certificate change wakes the reload; any other change is nothing to it. Heard as a listener, told
    // at each commit with no fiber to resume (issue 15: a feed subscriber's fiber woke for every
    // registration only to drop it); a change told twice (PostgreSQL: at the commit, then by the notice)
    // wakes it once or twice, and a reload reads the same list. `lost`: another process wrote to the
    // database, and no feed says what (`sixchat irp revoke` on SQLite).
    yield* registry.onChange({
      changed: (change) => {
        if (change.kind === "certificate") wake.unsafeOffer(undefined)
      },
      lost: () => wake.unsafeOffer(undefined)
    })
    yield* Effect.sleep(refreshEvery).pipe(Effect.zipRight(refresh), Effect.forever, Effect.forkScoped)

    const isRevoked = (serial: string) => bySerial.has(serial)
    return {
      source: { isRevoked: (_issuer, serial) => isRevoked(serial) },
      isRevoked,
      entry: (serial) => bySerial.get(serial),
      latestRevokedOf: (handle) => byHandle.get(handle),
      note,
      version: () => version,
      refresh,
      reload: load
    }
  })

/** The entry `Revoke` just produced, for `note`. */
export const entryOf = (record: {
  readonly serial: SerialHex
  readonly handle: Handle
  readonly revokedAt?: number | undefined
  readonly reason?: RevokedEntry["reason"] | undefined
}): RevokedEntry => ({
  serial: record.serial,
  handle: record.handle,
  revokedAt: record.revokedAt ?? 0,
  reason: record.reason ?? "unspecified"
})
