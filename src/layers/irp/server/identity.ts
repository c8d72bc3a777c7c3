/**
 * What a `Lookup` answer and a `<Changed>` say of a handle (PROTOCOL.md §17): its certificate status, chain
 * and bindings, from the answer cache when it holds them, else read from the registry and cached.
 */
import { Clock, Effect } from "effect"
import type { Handle } from "../../../domain/brands.js"
import type { BindingInfo, Changed, IrpRequest, IrpServerMessage } from "../../../domain/irp/messages.js"
import type { Binding, RegistryError } from "../../../domain/irp/registry.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import type { AnswerCache, IdentityState } from "./answerCache.js"
import type { ServerContext } from "./context.js"

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
  ctx: ServerContext,
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
  ctx: ServerContext,
  handle: Handle,
  now: number,
  ticket: Ticket,
  { certificate: current, bindings }: IdentityRead
): IdentityState | undefined => {
  if (current !== undefined && !ctx.revocations.isRevoked(current.serial)) {
    const state: IdentityState = {
      status: "good",
      chain: [current.der, ...ctx.issuerChain],
      bindings: bindings.map(bindingInfo)
    }
    // The state changes by itself when a binding's lease or the certificate runs out.
    let until = current.notAfter
    for (const b of bindings) if (b.expiresAt < until) until = b.expiresAt
    ctx.answers.put(handle, ticket, state, current.serial, now, until)
    return state
  }
  if (current === undefined && ctx.revocations.latestRevokedOf(handle) !== undefined) return undefined
  const state: IdentityState =
    current === undefined
      ? { status: "unknown", chain: [], bindings: [] }
      : { status: "revoked", chain: [current.der, ...ctx.issuerChain], bindings: [] }
  ctx.answers.put(handle, ticket, state, undefined, now, Number.POSITIVE_INFINITY)
  return state
}

/** The state read synchronously where the registry can (SQLite); `undefined`: it takes `readIdentityState`. */
export const identityStateNow = (ctx: ServerContext, handle: Handle, now: number): IdentityState | undefined => {
  const readNow = ctx.registry.currentIdentityNow
  if (readNow === undefined) return undefined
  const ticket = ctx.answers.ticket()
  const read = readNow({ handle, now })
  return read === undefined ? undefined : stateFromRead(ctx, handle, now, ticket, read)
}

const readIdentityState = (ctx: ServerContext, handle: Handle, now: number) =>
  Effect.gen(function* () {
    const ticket = ctx.answers.ticket()
    const read = yield* ctx.registry.currentIdentity({ handle, now })
    const state = stateFromRead(ctx, handle, now, ticket, read)
    if (state !== undefined) return state
    const revoked = yield* latestRevoked(ctx, handle)
    const last: IdentityState =
      revoked === undefined
        ? { status: "unknown", chain: [], bindings: [] }
        : { status: "revoked", chain: [revoked.der, ...ctx.issuerChain], bindings: [] }
    ctx.answers.put(handle, ticket, last, undefined, now, Number.POSITIVE_INFINITY)
    return last
  })

const latestRevoked = (ctx: ServerContext, handle: Handle) => {
  const entry = ctx.revocations.latestRevokedOf(handle)
  return entry === undefined ? Effect.succeed(undefined) : ctx.registry.certificateBySerial(entry.serial)
}

/** The `<Changed>` pushed to watchers of `handle`. */
export const changedOf = (ctx: ServerContext, handle: Handle): Effect.Effect<Changed, RegistryError> =>
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
