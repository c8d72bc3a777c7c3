/**
 * Certificates in the SQL registry (PROTOCOL.md §17): recording what the CA issued, revoking, status,
 * and the read every Lookup makes (a handle's current certificate with its bindings, in one statement).
 */
import { Effect, Option } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { CertificateRecord, SerialHex, StatusAnswer } from "../../../domain/irp/certificates.js"
import type { RegistryChange } from "../../../domain/irp/registry.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import { PgReads } from "../../../services/PgReads.js"
import { SyncReads, type SyncReadsService } from "../../sql/SyncReads.js"
import { startIdentityReads } from "./pgIdentities.js"
import {
  CERTIFICATE_COLUMNS,
  decodeCertificates,
  decodeIdentity,
  decodeRevoked,
  IDENTITY_COLUMNS,
  type IdentityRows,
  identityOf,
  identityOfArrays
} from "./rows.js"
import { fail, type Store } from "./store.js"

type CertificateMethods = Pick<
  IrpRegistryService,
  | "recordCertificate"
  | "certificateBySerial"
  | "currentCertificate"
  | "currentIdentity"
  | "currentIdentityNow"
  | "revoke"
  | "revokeHandle"
  | "revokedCertificates"
  | "status"
>

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
  // The rows come as arrays (no driver object per row, issue 15), decoded by position: the statement's
  // columns are checked once against the positions the decoder reads; any other spelling reads objects.
  let asArrays = false
  try {
    const columns = reads.columns(text)
    asArrays = columns.length === IDENTITY_COLUMNS.length && columns.every((c, i) => c === IDENTITY_COLUMNS[i])
  } catch {
    asArrays = false
  }
  return ({ handle, now }): IdentityRows | undefined => {
    const at = Math.floor(now)
    try {
      return asArrays
        ? identityOfArrays(reads.rows(text, [at, handle, at]))
        : identityOf(reads.all(text, [at, handle, at]))
    } catch {
      return undefined
    }
  }
}

/** The certificate methods; `currentIdentityNow` only where the storage offers `SyncReads` (SQLite). */
export const makeCertificates = (store: Store) =>
  Effect.gen(function* () {
    const { sql, write, read, text, millis } = store
    const selectCertificate = (serial: SerialHex) =>
      Effect.flatMap(
        sql`SELECT ${sql.literal(CERTIFICATE_COLUMNS)} FROM irp_certificates WHERE serial = ${text(serial)}`,
        decodeCertificates
      ).pipe(Effect.map((records) => records[0]))

    // One statement instead of `currentCertificate` then `lookup`: every statement costs @effect/sql's
    // compile, span and connection scope, more than SQLite's own work. Bindings ride on the certificate
    // row (a left join), so there are none without a current certificate, as the port says. Written as
    // `rowid = (subquery)` so that both tables are read by key and in order (no temporary B-tree): the
    // subquery finds the row in the covering index `irp_certificates_current`, whose entries carry the
    // rowid, so the certificate row is one search of the table itself instead of a search of the serial's
    // index and then of the table (issue 15: ~10 % of the statement on a registry of 1,000,000,
    // docs/BENCHMARKS.md). SQLite only: PostgreSQL reads through `pgIdentities.ts`.
    const identityStatement = (handle: Handle, at: number) =>
      sql`SELECT c.serial, c.handle, c.fingerprint, c.der, c.not_before, c.not_after, c.status, c.revoked_at,
          c.reason, b.device_id, b.addresses, b.observed, b.expires_at, CAST(b.seq AS TEXT) AS seq, b.updated_at
        FROM irp_certificates c LEFT JOIN irp_bindings b ON b.handle = c.handle AND b.expires_at > ${millis(at)}
        WHERE c.rowid = (SELECT rowid FROM irp_certificates
          WHERE handle = ${text(handle)} AND status = 'good' AND not_after > ${millis(at)}
          ORDER BY not_before DESC, serial DESC LIMIT 1)
        ORDER BY b.device_id`
    // PostgreSQL: several Lookups' reads in one statement (`pgIdentities.ts`), run through `PgReads` (the
    // pool's `pg` client) where the storage provides it.
    const batchedIdentity = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
      ? yield* startIdentityReads(store, Option.getOrUndefined(yield* Effect.serviceOption(PgReads)))
      : undefined
    const currentIdentityNow = syncIdentity(Option.getOrUndefined(yield* Effect.serviceOption(SyncReads)), (h, at) =>
      identityStatement(h, at).compile()
    )

    const methods: CertificateMethods = {
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

      // `currentCertificate` and `currentIdentity` answer every Lookup, so they are left untraced (no
      // `Effect.fn`): its span and call-site capture cost ~10 µs a call, a fifth of the read itself
      // (docs/BENCHMARKS.md).
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
        batchedIdentity === undefined
          ? read(Effect.flatMap(identityStatement(handle, Math.floor(now)), decodeIdentity))
          : batchedIdentity(handle, Math.floor(now)),

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
      })
    }
    return methods
  })
