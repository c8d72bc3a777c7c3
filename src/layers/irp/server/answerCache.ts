/**
 * The Lookup answer cache (what DNS resolvers and SIP registrars keep): a handle's state as `Lookup`
 * reports it (status, certificate chain, unexpired bindings), held in memory so that a popular handle
 * costs no database read. Bounded (least recently used entries go first) and never stale beyond what
 * the protocol allows:
 *
 * * an entry is dropped at once by every change the registry tells (`IrpRegistry.onChange`): this
 *   process's writes before they return, other processes' PostgreSQL notices as they arrive; when the
 *   registry can only say that something changed (another process wrote to the SQLite file), all go;
 * * it expires no later than its earliest binding's `expiresAt`, its certificate's `notAfter`, and `ttlMs`
 *   after the read that filled it, which bounds what the registry could fail to tell (a PostgreSQL
 *   LISTEN connection that dies silently);
 * * a `good` entry goes as soon as the server's revocation view holds its certificate, and any other
 *   entry as soon as that view grows (an `unknown` may have become `revoked`);
 * * a read that a change overtook does not fill the cache (`ticket`/`put`), so a slow read cannot
 *   bring back what the change replaced;
 * * unknown handles are cached too, by the same rules: an enrolment is a change, so a new identity is
 *   seen at once, and repeated Lookups of a contact who has not enrolled yet stay off the database.
 *
 * Entries are immutable and shared: every answer for a handle carries the same `Uint8Array`s, so the
 * encoder may cache their base64 text. Synchronous and allocation-light: it runs on every Lookup.
 */
import type { Handle } from "../../../domain/brands.js"
import type { BindingInfo, IdentityStatus } from "../../../domain/irp/messages.js"

/** A handle's state as `Lookup` and `<Changed>` report it. */
export interface IdentityState {
  readonly status: IdentityStatus
  readonly chain: ReadonlyArray<Uint8Array>
  readonly bindings: ReadonlyArray<BindingInfo>
}

interface Entry {
  readonly state: IdentityState
  /** The serial of the certificate behind a `good` state: a revocation seen later turns the entry stale. */
  readonly goodSerial: string | undefined
  /** For any other state, the revocation view's version it was read with (an `unknown` may turn `revoked`). */
  readonly revocations: number
  /** Epoch ms from which the entry must not be served. */
  readonly until: number
}

export interface AnswerCache {
  /** The cached state at `now`, or `undefined` (nothing cached, expired, or its certificate now revoked). */
  readonly get: (handle: Handle, now: number) => IdentityState | undefined
  /** Taken before a read whose result may be `put`: it lets `put` see whether a change overtook the read. */
  readonly ticket: () => number
  /**
   * Caches what a read that started at `ticket` found at `now`, unless a change of `handle` came since;
   * `validUntil` is the earliest time the state changes by itself (a binding or certificate expiry).
   */
  readonly put: (
    handle: Handle,
    ticket: number,
    state: IdentityState,
    goodSerial: string | undefined,
    now: number,
    validUntil: number
  ) => void
  /** Forgets the handle (a change of the registry). */
  readonly invalidate: (handle: Handle) => void
  /** Forgets everything (changes may have been missed), reads in progress included. */
  readonly clear: () => void
  readonly size: () => number
}

export interface AnswerCacheOptions {
  /** Most entries kept; past it the least recently used go. 0 turns the cache off. */
  readonly maxEntries: number
  /** Longest an entry is served after the read that filled it, ms. */
  readonly ttlMs: number
  /**
   * The server's revocation view, which may learn of a revocation before the feed tells (a periodic
   * reload, or a reload that the feed's notice started and the read overtook).
   */
  readonly revocations: {
    readonly isRevoked: (serial: string) => boolean
    readonly version: () => number
  }
}

/**
 * Changes remembered for `put`'s check, at most. Past it they are forgotten all at once and every read
 * that started before is refused, which costs a few misses and keeps the memory bounded.
 */
const MAX_RECENT_CHANGES = 4096

export const make = (options: AnswerCacheOptions): AnswerCache => {
  // A Map iterates in insertion order: re-inserting on a hit makes its first key the least recently used.
  const entries = new Map<Handle, Entry>()
  const { revocations } = options
  // Every change increments `generation`; `changedAt` holds the generation of each handle's last change,
  // for changes since `floor` (older ones were forgotten: reads ticketed before `floor` are never put).
  let generation = 0
  let floor = 0
  const changedAt = new Map<Handle, number>()

  return {
    get: (handle, now) => {
      const entry = entries.get(handle)
      if (entry === undefined) return undefined
      const stale =
        now >= entry.until ||
        (entry.goodSerial === undefined
          ? entry.revocations !== revocations.version()
          : revocations.isRevoked(entry.goodSerial))
      if (stale) {
        entries.delete(handle)
        return undefined
      }
      entries.delete(handle)
      entries.set(handle, entry)
      return entry.state
    },
    ticket: () => generation,
    put: (handle, ticket, state, goodSerial, now, validUntil) => {
      if (options.maxEntries <= 0 || ticket < floor || (changedAt.get(handle) ?? -1) > ticket) return
      const until = Math.min(now + options.ttlMs, validUntil)
      if (until <= now) return
      entries.delete(handle)
      entries.set(handle, { state, goodSerial, until, revocations: revocations.version() })
      if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value as Handle)
    },
    invalidate: (handle) => {
      entries.delete(handle)
      generation++
      if (changedAt.size >= MAX_RECENT_CHANGES) {
        changedAt.clear()
        floor = generation
      }
      changedAt.set(handle, generation)
    },
    clear: () => {
      entries.clear()
      changedAt.clear()
      floor = ++generation
    },
    size: () => entries.size
  }
}
