/**
 * A scripted `IrpConnection` for the Presence scheduling tests: records every Register and
 * Deregister, answers with a binding for the requested lease (at the TestClock's now), can flag a NAT,
 * fail requests, and simulate a reconnect (a new generation).
 */
import { Clock, Effect, Option, Ref, Stream, SubscriptionRef } from "effect"
import type { Address, Handle } from "../../../src/domain/brands.js"
import type { WireAddress } from "../../../src/domain/irp/messages.js"
import type { ConnectionState, IrpConnectionService } from "../../../src/layers/agent/irp/IrpConnection.js"
import { type IrpClient, IrpClientError, type RegisterInput } from "../../../src/services/IrpClient.js"

export interface FakeConnection {
  readonly service: IrpConnectionService
  readonly registers: Ref.Ref<ReadonlyArray<RegisterInput & { readonly at: number }>>
  readonly deregisters: Ref.Ref<number>
  readonly setNat: (observed: Address | undefined) => Effect.Effect<void>
  readonly setFailing: (reason: IrpClientError["reason"] | undefined) => Effect.Effect<void>
  readonly reconnect: Effect.Effect<void>
  readonly goDown: Effect.Effect<void>
}

const unsupported = Effect.die("not used by Presence")

/** `status`: how the fake answers `<Status>` (PeerStatus tests); unused by Presence. */
export const makeFakeConnection = (
  handle: Handle,
  address: Address,
  options: { readonly status?: IrpClient["status"] } = {}
) =>
  Effect.gen(function* () {
    const registers = yield* Ref.make<ReadonlyArray<RegisterInput & { readonly at: number }>>([])
    const deregisters = yield* Ref.make(0)
    let nat: Address | undefined
    let failing: IrpClientError["reason"] | undefined
    let generation = 1

    const client: IrpClient = {
      server: undefined,
      handle,
      enroll: () => unsupported,
      renew: () => unsupported,
      register: (input) =>
        Effect.gen(function* () {
          const at = yield* Clock.currentTimeMillis
          if (failing !== undefined)
            return yield* new IrpClientError({ reason: failing, message: `scripted ${failing}` })
          yield* Ref.update(registers, (all) => [...all, { ...input, at }])
          return {
            bindings: [
              {
                deviceId: input.deviceId,
                addresses: input.addresses as never,
                expiresAt: at + input.ttlSeconds * 1000,
                seq: input.seq
              }
            ],
            observed: (nat ?? input.addresses[0]) as WireAddress | undefined,
            natSuspected: nat !== undefined
          }
        }),
      deregister: () => Ref.update(deregisters, (n) => n + 1),
      deregisterAll: Ref.update(deregisters, (n) => n + 1),
      lookup: () => unsupported,
      status: options.status ?? (() => unsupported),
      crl: unsupported,
      revoke: () => unsupported,
      domainInfo: () => unsupported,
      watch: () => Effect.succeed(Stream.never),
      ping: Effect.void,
      close: Effect.void
    }

    const state = yield* SubscriptionRef.make<ConnectionState>({ _tag: "Up", client, generation: 1 })
    const upNow = Effect.flatMap(SubscriptionRef.get(state), (s) =>
      s._tag === "Up"
        ? Effect.succeed(s.client)
        : Effect.fail(new IrpClientError({ reason: "Unreachable", message: "down" }))
    )
    const service: IrpConnectionService = {
      handle,
      address,
      state: SubscriptionRef.get(state),
      connections: state.changes.pipe(
        Stream.filterMap((s) => (s._tag === "Up" ? Option.some(s) : Option.none())),
        Stream.changesWith((a, b) => a.generation === b.generation)
      ),
      use: (f) => Effect.flatMap(upNow, f),
      useNow: (f) => Effect.flatMap(upNow, f),
      failed: () => Effect.void,
      reconnect: () => Effect.void
    }
    return {
      service,
      registers,
      deregisters,
      setNat: (observed) =>
        Effect.sync(() => {
          nat = observed
        }),
      setFailing: (reason) =>
        Effect.sync(() => {
          failing = reason
        }),
      reconnect: Effect.suspend(() => SubscriptionRef.set(state, { _tag: "Up", client, generation: ++generation })),
      goDown: SubscriptionRef.set(state, { _tag: "Down", error: undefined, attempts: 0 })
    } satisfies FakeConnection
  })
