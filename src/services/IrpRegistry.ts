/**
 * IrpRegistry: what an IRP server stores (PROTOCOL.md §17, last paragraph): enrolment tokens, the
 * certificates its CA issued and their revocation status, and each user's device bindings, plus a
 * feed of changes for `Watch`. One implementation over `@effect/sql` (`layers/irp/registry/SqlRegistry`)
 * serves SQLite (one process) and PostgreSQL (several server processes sharing one database).
 *
 * Every time (`now`, `at`, `expiresAt`) is epoch milliseconds supplied by the caller, who reads the
 * Effect `Clock`, so tests drive expiry with `TestClock`.
 */
import { Context, type Effect, type Queue, type Scope, type Stream } from "effect"
import type { Address, Handle } from "../domain/brands.js"
import type {
  CertificateRecord,
  RevocationReason,
  RevokedEntry,
  SerialHex,
  StatusAnswer
} from "../domain/irp/certificates.js"
import type { Addresses, Binding, DeviceId, RegistryChange, RegistryError, Seq } from "../domain/irp/registry.js"

export interface RegisterRequest {
  readonly handle: Handle
  readonly deviceId: DeviceId
  readonly addresses: Addresses
  readonly ttlSeconds: number
  readonly seq: Seq
  /** The source address of the connection that carried the request. */
  readonly observed: Address | undefined
  readonly now: number
}

export interface IrpRegistryService {
  // --- enrolment tokens (PROTOCOL.md §17, `Enroll`) ---

  /** Stores a one-time token. Only its SHA-256 is stored, never the token. `Conflict` if the hash exists. */
  readonly createToken: (input: {
    readonly handle: Handle
    readonly tokenHash: Uint8Array
    readonly expiresAt: number
  }) => Effect.Effect<void, RegistryError>
  /**
   * Marks the token used and returns its handle. Atomic: of any number of racing consumers (in any
   * number of processes) exactly one succeeds; the others get `TokenUsed`. A token is refused with
   * `TokenNotFound`, `TokenExpired` or `TokenWrongHandle` (which leaves it usable by its rightful handle).
   */
  readonly consumeToken: (input: {
    readonly tokenHash: Uint8Array
    readonly handle: Handle
    readonly now: number
  }) => Effect.Effect<Handle, RegistryError>

  // --- certificates (PROTOCOL.md §§13 and 17: `Status`, `Crl`, `Revoke`) ---

  /** Records an issued certificate. `Conflict` if the serial is already recorded. */
  readonly recordCertificate: (record: CertificateRecord) => Effect.Effect<void, RegistryError>
  readonly certificateBySerial: (serial: SerialHex) => Effect.Effect<CertificateRecord | undefined, RegistryError>
  /** The handle's newest (latest `notBefore`) good certificate that has not expired at `now`. */
  readonly currentCertificate: (input: {
    readonly handle: Handle
    readonly now: number
  }) => Effect.Effect<CertificateRecord | undefined, RegistryError>
  /**
   * `currentCertificate` and, when there is one, its handle's bindings unexpired at `now` (as `lookup`
   * returns them), in one read: what a Lookup needs. No certificate, no bindings.
   */
  readonly currentIdentity: (input: { readonly handle: Handle; readonly now: number }) => Effect.Effect<
    {
      readonly certificate: CertificateRecord | undefined
      readonly bindings: ReadonlyArray<Binding>
    },
    RegistryError
  >
  /**
   * `currentIdentity` as a plain function, where the storage can read synchronously (SQLite); absent
   * otherwise. `undefined` when this read cannot answer (a failure): the caller then uses
   * `currentIdentity`, which reports the failure as an error.
   */
  readonly currentIdentityNow?: (input: { readonly handle: Handle; readonly now: number }) =>
    | {
        readonly certificate: CertificateRecord | undefined
        readonly bindings: ReadonlyArray<Binding>
      }
    | undefined
  /**
   * Revokes one certificate at once and returns its record. Revoking an already revoked certificate
   * changes nothing (the first time and reason stay). `NotFound` for an unknown serial.
   */
  readonly revoke: (input: {
    readonly serial: SerialHex
    readonly reason: RevocationReason
    readonly at: number
  }) => Effect.Effect<CertificateRecord, RegistryError>
  /** Revokes every good certificate of a handle; returns the ones this call revoked. */
  readonly revokeHandle: (input: {
    readonly handle: Handle
    readonly reason: RevocationReason
    readonly at: number
  }) => Effect.Effect<ReadonlyArray<CertificateRecord>, RegistryError>
  /** Every revoked certificate, oldest revocation first (the CRL's entries). */
  readonly revokedCertificates: () => Effect.Effect<ReadonlyArray<RevokedEntry>, RegistryError>
  readonly status: (serial: SerialHex) => Effect.Effect<StatusAnswer, RegistryError>

  // --- bindings (PROTOCOL.md §17: `Register`, `Deregister`, `Lookup`) ---

  /**
   * Replaces the device's binding and returns all of the handle's unexpired bindings afterwards.
   * Refuses `LeaseTooShort` / `LeaseTooLong`, `TooManyDevices` (counting only other devices' unexpired
   * bindings) and `StaleSequence` (`seq` not strictly greater than the device's stored one). Racing
   * registrations for one device leave the highest `seq` stored.
   */
  readonly register: (request: RegisterRequest) => Effect.Effect<ReadonlyArray<Binding>, RegistryError>
  /**
   * Ends one device's lease, or all of them, at `now`; returns how many unexpired bindings were removed.
   * The sequence high-water mark is kept (see `LeasePolicy.retainExpiredSeconds`).
   */
  readonly deregister: (input: {
    readonly handle: Handle
    readonly deviceId: DeviceId | "all"
    readonly now: number
  }) => Effect.Effect<number, RegistryError>
  /** The handle's bindings unexpired at `now` (`expiresAt > now`), ordered by device id. */
  readonly lookup: (input: {
    readonly handle: Handle
    readonly now: number
  }) => Effect.Effect<ReadonlyArray<Binding>, RegistryError>
  /**
   * Housekeeping: deletes bindings expired longer than the retention, and tokens that expired or were
   * used before `now`. Returns how many rows of each went.
   */
  readonly purgeExpired: (
    now: number
  ) => Effect.Effect<{ readonly bindings: number; readonly tokens: number }, RegistryError>

  // --- change feed (PROTOCOL.md §17, `Watch`) ---

  /**
   * A subscription to changes (register, deregister, revocation), active as soon as this returns and
   * until the scope closes. On PostgreSQL it also carries changes made by other processes sharing the
   * database. Lease expiry is not announced: watchers know `expiresAt`. A subscriber that falls more
   * than a few thousand changes behind loses the oldest ones.
   */
  readonly subscribe: Effect.Effect<Queue.Dequeue<RegistryChange>, never, Scope.Scope>
  /** The same feed as a stream (subscribed when the stream starts). */
  readonly changes: Stream.Stream<RegistryChange>
  /**
   * Tells `listener` synchronously, until the scope closes, of every change: this process's own before
   * the writing method returns, another process's as soon as the registry learns of it (PostgreSQL: its
   * notice; SQLite: a poll of the file's version, which cannot say what changed, hence `lost`). For
   * caches of what the registry holds: invalidating here, a cache never serves, after a write of this
   * process has returned, what that write replaced. A change may be told more than once. The listener
   * must be quick and must not throw.
   */
  readonly onChange: (listener: ChangeListener) => Effect.Effect<void, never, Scope.Scope>
}

/** See `IrpRegistryService.onChange`. */
export interface ChangeListener {
  /** This handle's bindings or certificates changed. */
  readonly changed: (change: RegistryChange) => void
  /** Changes may have been missed (another process wrote to the SQLite file, the PostgreSQL feed broke): anything may have changed. */
  readonly lost: () => void
}

export class IrpRegistry extends Context.Tag("sixchat/IrpRegistry")<IrpRegistry, IrpRegistryService>() {}
