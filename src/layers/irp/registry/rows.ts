/**
 * Rows as the two drivers return them, decoded into domain values through Schemas. The dialects
 * differ in small ways that are absorbed here: PostgreSQL returns `BIGINT` as a string, SQLite as a
 * number (exact only below 2^53, so `seq` is always selected `CAST(seq AS TEXT)`); blobs come back as
 * Node `Buffer`s, copied into plain `Uint8Array`s.
 */
import { Effect, Schema } from "effect"
import { Address, Fingerprint, Handle } from "../../../domain/brands.js"
import {
  type CertificateRecord,
  CertificateStatus,
  RevocationReason,
  type RevokedEntry,
  SerialHex
} from "../../../domain/irp/certificates.js"
import { Addresses, type Binding, DeviceId, RegistryError, Seq } from "../../../domain/irp/registry.js"

/** An epoch-ms column: a number (SQLite) or a decimal string (PostgreSQL `BIGINT`). */
const Millis = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.int())
/** `seq`, selected as text on both dialects. */
const SeqText = Schema.compose(Schema.BigInt, Seq)

const BindingRow = Schema.Struct({
  device_id: DeviceId,
  addresses: Schema.parseJson(Addresses),
  observed: Schema.NullOr(Schema.parseJson(Address)),
  expires_at: Millis,
  seq: SeqText,
  updated_at: Millis
})

const CertificateRow = Schema.Struct({
  serial: SerialHex,
  handle: Handle,
  fingerprint: Fingerprint,
  der: Schema.Uint8ArrayFromSelf,
  not_before: Millis,
  not_after: Millis,
  status: CertificateStatus,
  revoked_at: Schema.NullOr(Millis),
  reason: Schema.NullOr(RevocationReason)
})

const RevokedRow = Schema.Struct({
  serial: SerialHex,
  handle: Handle,
  revoked_at: Millis,
  reason: RevocationReason
})

/** The columns `decodeBindings` expects, in select-list form. */
export const BINDING_COLUMNS = "device_id, addresses, observed, expires_at, CAST(seq AS TEXT) AS seq, updated_at"
export const CERTIFICATE_COLUMNS = "serial, handle, fingerprint, der, not_before, not_after, status, revoked_at, reason"

const malformed = (what: string) => (cause: unknown) =>
  new RegistryError({
    reason: "Storage",
    message: `The registry database holds a malformed ${what} row; check what else writes to its tables.`,
    cause
  })

const decodeBindingRows = Schema.decodeUnknown(Schema.Array(BindingRow))
const decodeCertificateRows = Schema.decodeUnknown(Schema.Array(CertificateRow))
const decodeRevokedRows = Schema.decodeUnknown(Schema.Array(RevokedRow))

export const decodeBindings = (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<Binding>, RegistryError> =>
  decodeBindingRows(rows).pipe(
    Effect.map((decoded) =>
      decoded.map(
        (r): Binding => ({
          deviceId: r.device_id,
          addresses: r.addresses,
          expiresAt: r.expires_at,
          seq: r.seq,
          observed: r.observed ?? undefined,
          updatedAt: r.updated_at
        })
      )
    ),
    Effect.mapError(malformed("binding"))
  )

export const decodeCertificates = (
  rows: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<CertificateRecord>, RegistryError> =>
  decodeCertificateRows(rows.map(copyDer)).pipe(
    Effect.map((decoded) =>
      decoded.map(
        (r): CertificateRecord => ({
          serial: r.serial,
          handle: r.handle,
          fingerprint: r.fingerprint,
          der: r.der,
          notBefore: r.not_before,
          notAfter: r.not_after,
          status: r.status,
          ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at }),
          ...(r.reason === null ? {} : { reason: r.reason })
        })
      )
    ),
    Effect.mapError(malformed("certificate"))
  )

export const decodeRevoked = (
  rows: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<RevokedEntry>, RegistryError> =>
  decodeRevokedRows(rows).pipe(
    Effect.map((decoded) =>
      decoded.map(
        (r): RevokedEntry => ({ serial: r.serial, handle: r.handle, revokedAt: r.revoked_at, reason: r.reason })
      )
    ),
    Effect.mapError(malformed("revocation"))
  )

/** A driver `Buffer` may be a view on a shared pool: hand callers their own plain copy. */
const copyDer = (row: unknown): unknown => {
  if (typeof row !== "object" || row === null || !("der" in row) || !(row.der instanceof Uint8Array)) return row
  return { ...row, der: new Uint8Array(row.der) }
}

/** A `COUNT(*)` or similar: number on SQLite, string (bigint) on PostgreSQL. */
export const countOf = (rows: ReadonlyArray<{ readonly n: number | string | bigint }>): number =>
  Number(rows[0]?.n ?? 0)

/** JSON text for the `addresses` / `observed` columns. */
export const addressesJson = (addresses: ReadonlyArray<Address>): string =>
  JSON.stringify(addresses.map((a) => ({ host: a.host, port: a.port })))
export const addressJson = (address: Address | undefined): string | null =>
  address === undefined ? null : JSON.stringify({ host: address.host, port: address.port })
