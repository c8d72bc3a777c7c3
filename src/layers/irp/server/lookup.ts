/**
 * Lookup (PROTOCOL.md §17): what a `Lookup` answer and a `<Changed>` say of a handle (its certificate
 * status, chain and bindings), the requests' handling, and the answer cache behind both.
 *
 * The answer cache (what DNS resolvers and SIP registrars keep): a handle's state as `Lookup`
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
import { Clock, Effect } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type {
  BindingInfo,
  Changed,
  IdentityStatus,
  IrpRequest,
  IrpServerMessage
} from "../../../domain/irp/messages.js"
import type { Binding, RegistryError } from "../../../domain/irp/registry.js"
import { handleInDomain } from "../../../domain/pki/profile.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import type { CertificateCopies } from "./certificateCopies.js"
import { notOurs, type Refused, registry } from "./refusals.js"
import type { Revocations } from "./revocations.js"

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

export const makeAnswerCache = (options: AnswerCacheOptions): AnswerCache => {
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

/** What Lookup runs with: the parts of the server's `ServerContext` (`context.ts`) it reads. */
export interface LookupContext {
  readonly registry: IrpRegistryService
  readonly domain: string
  readonly issuerChain: ReadonlyArray<Uint8Array>
  readonly revocations: Pick<Revocations, "isRevoked" | "latestRevokedOf">
  readonly answers: AnswerCache
  /** One DER copy per serial, so that the encoder's base64 cache hits (`certificateCopies.ts`). */
  readonly certificates: CertificateCopies
}

export const bindingInfo = (b: Binding): BindingInfo => ({
  deviceId: b.deviceId,
  addresses: b.addresses as BindingInfo["addresses"],
  expiresAt: b.expiresAt,
  seq: b.seq
})

/**
 * A handle's state for `Lookup` and `<Changed>` (PROTOCOL.md §17: "a lookup of a revoked identity says
 * so"): from the answer cache when it holds it, else read and cached.
 */
export const identityState = (
  ctx: LookupContext,
  handle: Handle,
  now: number
): Effect.Effect<IdentityState, RegistryError> => {
  const cached = ctx.answers.get(handle, now)
  return cached !== undefined ? Effect.succeed(cached) : readIdentityState(ctx, handle, now)
}

type Ticket = ReturnType<AnswerCache["ticket"]>
type IdentityRead = NonNullable<ReturnType<NonNullable<IrpRegistryService["currentIdentityNow"]>>>

/**
 * The state a `currentIdentity` read gives, cached; `undefined` when the handle's latest certificate is
 * revoked and not in the read (its record takes another read: `readIdentityState`).
 */
const stateFromRead = (
  ctx: LookupContext,
  handle: Handle,
  now: number,
  ticket: Ticket,
  { certificate: current, bindings }: IdentityRead
): IdentityState | undefined => {
  if (current === undefined) {
    if (ctx.revocations.latestRevokedOf(handle) !== undefined) return undefined
    const state: IdentityState = { status: "unknown", chain: [], bindings: [] }
    ctx.answers.put(handle, ticket, state, undefined, now, Number.POSITIVE_INFINITY)
    return state
  }
  const chain = [ctx.certificates.shared(current.serial, current.der), ...ctx.issuerChain]
  if (!ctx.revocations.isRevoked(current.serial)) {
    const state: IdentityState = { status: "good", chain, bindings: bindings.map(bindingInfo) }
    // The state changes by itself when a binding's lease or the certificate runs out.
    let until = current.notAfter
    for (const b of bindings) if (b.expiresAt < until) until = b.expiresAt
    ctx.answers.put(handle, ticket, state, current.serial, now, until)
    return state
  }
  const state: IdentityState = { status: "revoked", chain, bindings: [] }
  ctx.answers.put(handle, ticket, state, undefined, now, Number.POSITIVE_INFINITY)
  return state
}

/** The state read synchronously where the registry can (SQLite); `undefined`: it takes `readIdentityState`. */
const identityStateNow = (ctx: LookupContext, handle: Handle, now: number): IdentityState | undefined => {
  const readNow = ctx.registry.currentIdentityNow
  if (readNow === undefined) return undefined
  const ticket = ctx.answers.ticket()
  const read = readNow({ handle, now })
  return read === undefined ? undefined : stateFromRead(ctx, handle, now, ticket, read)
}

/** `identityState`'s read (plain `flatMap`s: PostgreSQL Lookups take it for every uncached handle, issue 15). */
const readIdentityState = (
  ctx: LookupContext,
  handle: Handle,
  now: number
): Effect.Effect<IdentityState, RegistryError> => {
  const ticket = ctx.answers.ticket()
  return Effect.flatMap(ctx.registry.currentIdentity({ handle, now }), (read) => {
    const state = stateFromRead(ctx, handle, now, ticket, read)
    if (state !== undefined) return Effect.succeed(state)
    return Effect.map(latestRevoked(ctx, handle), (revoked) => {
      const last: IdentityState =
        revoked === undefined
          ? { status: "unknown", chain: [], bindings: [] }
          : {
              status: "revoked",
              chain: [ctx.certificates.shared(revoked.serial, revoked.der), ...ctx.issuerChain],
              bindings: []
            }
      ctx.answers.put(handle, ticket, last, undefined, now, Number.POSITIVE_INFINITY)
      return last
    })
  })
}

const latestRevoked = (ctx: LookupContext, handle: Handle) => {
  const entry = ctx.revocations.latestRevokedOf(handle)
  return entry === undefined ? Effect.succeed(undefined) : ctx.registry.certificateBySerial(entry.serial)
}

/** The `<Changed>` pushed to watchers of `handle`. */
export const changedOf = (ctx: LookupContext, handle: Handle): Effect.Effect<Changed, RegistryError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.map(identityState(ctx, handle, now), (s) => ({
      _tag: "irp.Changed" as const,
      handle,
      status: s.status,
      bindings: s.bindings
    }))
  )

export const lookupResult = (id: IrpRequest["id"], handle: Handle, state: IdentityState): IrpServerMessage => ({
  _tag: "irp.LookupResult",
  id,
  handle,
  status: state.status,
  chain: state.chain,
  bindings: state.bindings
})

type LookupRequest = Extract<IrpRequest, { readonly _tag: "irp.Lookup" }>

/**
 * A Lookup answered without an effect: refused at once for a handle of another domain, else from the
 * cache or a synchronous read. `undefined`: it takes `lookup`.
 */
export const lookupAtOnce = (
  ctx: LookupContext,
  request: LookupRequest,
  now: number
): ReadonlyArray<IrpServerMessage> | Refused | undefined => {
  if (!handleInDomain(request.handle, ctx.domain)) return notOurs(ctx.domain, request.handle)
  const state = ctx.answers.get(request.handle, now) ?? identityStateNow(ctx, request.handle, now)
  return state === undefined ? undefined : [lookupResult(request.id, request.handle, state)]
}

/** A Lookup that reads the registry. */
export const lookup = (
  ctx: LookupContext,
  request: LookupRequest,
  now: number
): Effect.Effect<ReadonlyArray<IrpServerMessage>, Refused> =>
  handleInDomain(request.handle, ctx.domain)
    ? Effect.map(registry(identityState(ctx, request.handle, now)), (state) => [
        lookupResult(request.id, request.handle, state)
      ])
    : Effect.fail(notOurs(ctx.domain, request.handle))
