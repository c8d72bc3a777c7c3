/**
 * Rows as the two drivers return them, decoded into domain values. The dialects
 * differ in small ways that are absorbed here: PostgreSQL returns `BIGINT` as a string, SQLite as a
 * number (exact only below 2^53, so `seq` is always selected `CAST(seq AS TEXT)`); blobs come back as
 * Node `Buffer`s, copied into plain `Uint8Array`s.
 */
import { Effect, Either, Schema } from "effect"
import type { Address, Fingerprint } from "../../../domain/brands.js"
import { Handle } from "../../../domain/brands.js"
import {
  type CertificateRecord,
  CertificateStatus,
  RevocationReason,
  type RevokedEntry,
  SerialHex
} from "../../../domain/irp/certificates.js"
import {
  type Addresses,
  type Binding,
  type DeviceId,
  MAX_ADDRESSES_PER_DEVICE,
  RegistryError,
  type Seq
} from "../../../domain/irp/registry.js"

/** An epoch-ms column: a number (SQLite) or a decimal string (PostgreSQL `BIGINT`). */
const Millis = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.int())

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

const decodeRevokedRows = Schema.decodeUnknown(Schema.Array(RevokedRow))

/**
 * Binding and certificate rows are read on every Lookup that misses the server's cache, so they are
 * decoded by hand rather than through Schemas (a third of the read's cost): their values were checked
 * when they were written, and what is checked here is only that each column has the shape the domain
 * type promises, so that a row some other writer damaged is still a `Storage` error, never a crash.
 */
class Malformed extends Error {}

const text = (row: Row, column: string): string => {
  const value = row[column]
  if (typeof value !== "string") throw new Malformed(`${column} is not text`)
  return value
}

const millis = (row: Row, column: string): number => {
  const value = row[column]
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n)) throw new Malformed(`${column} is not a time`)
  return n
}

const addressOf = (value: unknown): Address => {
  if (typeof value !== "object" || value === null) throw new Malformed("an address is not an object")
  const { host, port } = value as { readonly host?: unknown; readonly port?: unknown }
  if (typeof host !== "string" || host.length === 0 || host.length > 253) throw new Malformed("bad address host")
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Malformed("bad address port")
  return value as Address
}

const addressesOf = (json: string): Addresses => {
  const value: unknown = JSON.parse(json)
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ADDRESSES_PER_DEVICE)
    throw new Malformed("addresses is not a list of 1 to 8 addresses")
  for (const a of value) Object.freeze(addressOf(a))
  return Object.freeze(value) as unknown as Addresses
}

/** Most column texts `remembered` keeps per column; past it they are all forgotten at once (a bound). */
const REMEMBERED = 4096

/**
 * A column's decoder that remembers what it made of each text: a device stores the same addresses at
 * every renewal of its lease, and every registration and Lookup reads them back (issue 15). The values
 * are frozen and shared between the bindings that hold them; a text that does not decode is not kept.
 */
const remembered = <A>(decode: (json: string) => A) => {
  const made = new Map<string, A>()
  return (json: string): A => {
    let value = made.get(json)
    if (value === undefined) {
      value = decode(json)
      if (made.size >= REMEMBERED) made.clear()
      made.set(json, value)
    }
    return value
  }
}
const addressesFrom = remembered(addressesOf)
const observedFrom = remembered((json) => Object.freeze(addressOf(JSON.parse(json))))

type Row = Readonly<Record<string, unknown>>

const bindingOf = (row: Row): Binding => {
  const observed = row.observed
  return {
    deviceId: text(row, "device_id") as DeviceId,
    addresses: addressesFrom(text(row, "addresses")),
    expiresAt: millis(row, "expires_at"),
    seq: BigInt(text(row, "seq")) as Seq,
    observed: observed === null ? undefined : observedFrom(text(row, "observed")),
    updatedAt: millis(row, "updated_at")
  }
}

const STATUSES: ReadonlySet<unknown> = new Set(CertificateStatus.literals)
const REASONS: ReadonlySet<unknown> = new Set(RevocationReason.literals)

/**
 * The bytes of a blob column as a plain `Uint8Array` of the caller's own. A driver `Buffer` may be a view on
 * a shared pool (PostgreSQL's `bytea` decoding): then it is copied. One that spans its whole backing store
 * (better-sqlite3 makes a fresh one per value) is nobody else's: a view on it does, without the copy of
 * every Lookup's certificate (issue 15).
 */
const ownBytes = (bytes: Uint8Array): Uint8Array =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)
    ? new Uint8Array(bytes.buffer, 0, bytes.byteLength)
    : new Uint8Array(bytes)

const certificateOf = (row: Row): CertificateRecord => {
  const der = row.der
  if (!(der instanceof Uint8Array)) throw new Malformed("der is not bytes")
  const status = row.status
  if (!STATUSES.has(status)) throw new Malformed("status is not good or revoked")
  const record: CertificateRecord = {
    serial: text(row, "serial") as SerialHex,
    handle: text(row, "handle") as Handle,
    fingerprint: text(row, "fingerprint") as Fingerprint,
    der: ownBytes(der),
    notBefore: millis(row, "not_before"),
    notAfter: millis(row, "not_after"),
    status: status as CertificateRecord["status"]
  }
  if (row.revoked_at === null && row.reason === null) return record
  if (!REASONS.has(row.reason)) throw new Malformed("reason is not a revocation reason")
  return { ...record, revokedAt: millis(row, "revoked_at"), reason: row.reason as RevocationReason }
}

/** Runs a hand decoder, making any failure the registry's `Storage` error. */
const decodeWith =
  <A>(what: string, decode: (rows: ReadonlyArray<Row>) => A) =>
  (rows: ReadonlyArray<unknown>): Effect.Effect<A, RegistryError> => {
    try {
      return Effect.succeed(decode(rows as ReadonlyArray<Row>))
    } catch (cause) {
      return Effect.fail(malformed(what)(cause))
    }
  }

export const decodeBindings: (rows: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Binding>, RegistryError> =
  decodeWith("binding", (rows) => rows.map(bindingOf))

/** `decodeBindings` as a plain function (the synchronous write path). */
export const bindingsNow = (rows: ReadonlyArray<unknown>): Either.Either<ReadonlyArray<Binding>, RegistryError> => {
  try {
    return Either.right((rows as ReadonlyArray<Row>).map(bindingOf))
  } catch (cause) {
    return Either.left(malformed("binding")(cause))
  }
}

export const decodeCertificates: (
  rows: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<CertificateRecord>, RegistryError> = decodeWith("certificate", (rows) =>
  rows.map(certificateOf)
)

/** What `IDENTITY_SELECT` returns: the current certificate, with its bindings when there is one. */
export interface IdentityRows {
  readonly certificate: CertificateRecord | undefined
  readonly bindings: ReadonlyArray<Binding>
}

/** Rows of the certificate columns, then the binding columns (null when the handle has no binding). */
const identityRows = (rows: ReadonlyArray<Row>): IdentityRows => {
  const first = rows[0]
  if (first === undefined) return { certificate: undefined, bindings: [] }
  const bindings: Array<Binding> = []
  for (const row of rows) if (row.device_id !== null) bindings.push(bindingOf(row))
  return { certificate: certificateOf(first), bindings }
}

export const decodeIdentity: (rows: ReadonlyArray<unknown>) => Effect.Effect<IdentityRows, RegistryError> = decodeWith(
  "certificate or binding",
  identityRows
)

/** `decodeIdentity` as a plain function (the synchronous read path); throws on a malformed row. */
export const identityOf = (rows: ReadonlyArray<unknown>): IdentityRows => identityRows(rows as ReadonlyArray<Row>)

/**
 * The identity statement's result columns in order (its select list): the synchronous read takes its rows
 * as arrays (`SyncReads.rows`, issue 15) and checks once that the statement's columns are these.
 */
export const IDENTITY_COLUMNS = [
  "serial",
  "handle",
  "fingerprint",
  "der",
  "not_before",
  "not_after",
  "status",
  "revoked_at",
  "reason",
  "device_id",
  "addresses",
  "observed",
  "expires_at",
  "seq",
  "updated_at"
] as const

/**
 * A row of `IDENTITY_COLUMNS` as an object of the columns the decoders read: one small object of a fixed
 * shape made here is cheaper than the driver's (it sets each of 15 properties through the V8 API), and the
 * same checks run on it.
 */
const identityRow = (r: ReadonlyArray<unknown>): Row => ({
  serial: r[0],
  handle: r[1],
  fingerprint: r[2],
  der: r[3],
  not_before: r[4],
  not_after: r[5],
  status: r[6],
  revoked_at: r[7],
  reason: r[8],
  device_id: r[9],
  addresses: r[10],
  observed: r[11],
  expires_at: r[12],
  seq: r[13],
  updated_at: r[14]
})

/** `identityOf` for rows as arrays of `IDENTITY_COLUMNS`; throws on a malformed row. */
export const identityOfArrays = (rows: ReadonlyArray<ReadonlyArray<unknown>>): IdentityRows => {
  const first = rows[0]
  if (first === undefined) return { certificate: undefined, bindings: [] }
  const bindings: Array<Binding> = []
  for (const row of rows) if (row[9] !== null) bindings.push(bindingOf(identityRow(row)))
  return { certificate: certificateOf(identityRow(first)), bindings }
}

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

/** A `COUNT(*)` or similar: number on SQLite, string (bigint) on PostgreSQL. */
export const countOf = (rows: ReadonlyArray<{ readonly n: number | string | bigint }>): number =>
  Number(rows[0]?.n ?? 0)

/**
 * JSON text for the `addresses` / `observed` columns: `JSON.stringify` of `{ host, port }` for each, written
 * directly (the host through `JSON.stringify`, the port an integer), the same text without the copies.
 */
const addressText = (a: Address): string => `{"host":${JSON.stringify(a.host)},"port":${JSON.stringify(a.port)}}`
export const addressesJson = (addresses: ReadonlyArray<Address>): string => {
  let out = "["
  for (let i = 0; i < addresses.length; i++) out += (i === 0 ? "" : ",") + addressText(addresses[i]!)
  return `${out}]`
}
/** `observed` is one object per connection (the server's handler keeps it): its text is kept with it. */
const observedTexts = new WeakMap<Address, string>()
export const addressJson = (address: Address | undefined): string | null => {
  if (address === undefined) return null
  let text = observedTexts.get(address)
  if (text === undefined) {
    text = addressText(address)
    observedTexts.set(address, text)
  }
  return text
}
