/**
 * An in-memory Directory and Presence pair for agent tests and simulations: agents register their
 * (real or simulated) addresses under a device id, lookups see every device's bindings (IPv6 first),
 * and watchers hear of every change at once. No leases: a binding lasts until it is replaced or its
 * Presence scope closes (deregistration on shutdown).
 *
 *   const dir = yield* MemoryDirectory.make
 *   Layer.succeed(Directory, dir.directory)
 *   dir.presenceLayer(handle, "laptop")            // registers the AgentListeners' addresses
 */
import { Clock, Effect, Layer, PubSub, type Scope, Stream } from "effect"
import { type Address, formatAddress, type Handle } from "../../src/domain/brands.js"
import { AgentListeners } from "../../src/layers/agent/core/Listeners.js"
import { DirectoryError, type DirectoryService } from "../../src/services/Directory.js"
import { Presence, type PresenceEvent, type PresenceService } from "../../src/services/Presence.js"

/** Lease reported in `Registered` events (nothing expires here). */
const LEASE_MS = 3_600_000

export interface MemoryDirectory {
  readonly directory: DirectoryService
  /** Replaces `deviceId`'s binding of `handle` (an empty list removes it); watchers are told. */
  readonly register: (handle: Handle, deviceId: string, addresses: ReadonlyArray<Address>) => Effect.Effect<void>
  readonly deregister: (handle: Handle, deviceId: string) => Effect.Effect<void>
  /** Every address bound for `handle` now. */
  readonly addressesOf: (handle: Handle) => ReadonlyArray<Address>
  /**
   * A Presence for one device: registers `addresses` at once and on every `refresh`, deregisters
   * when the scope closes.
   */
  readonly presence: (
    handle: Handle,
    deviceId: string,
    addresses: Effect.Effect<ReadonlyArray<Address>>
  ) => Effect.Effect<PresenceService, never, Scope.Scope>
  /**
   * The same over the agent's listeners; a wildcard listener (`::`, `0.0.0.0`) is registered as
   * `wildcardHosts` of its family (default `::1` / `127.0.0.1`).
   */
  readonly presenceLayer: (
    handle: Handle,
    deviceId: string,
    wildcardHosts?: ReadonlyArray<string>
  ) => Layer.Layer<Presence, never, AgentListeners>
}

const isV6 = (a: Address) => a.host.includes(":")

/** A wildcard listening address as concrete ones (same port). */
export const concreteAddresses = (
  listening: ReadonlyArray<Address>,
  wildcardHosts: ReadonlyArray<string> = ["::1", "127.0.0.1"]
): ReadonlyArray<Address> =>
  listening.flatMap((a) =>
    a.host === "::" || a.host === "0.0.0.0"
      ? wildcardHosts
          .filter((h) => h.includes(":") === (a.host === "::"))
          .map((h) => ({ ...a, host: h as Address["host"] }))
      : [a]
  )

export const make: Effect.Effect<MemoryDirectory, never, Scope.Scope> = Effect.gen(function* () {
  const bindings = new Map<Handle, Map<string, ReadonlyArray<Address>>>()
  const changes = yield* Effect.acquireRelease(PubSub.unbounded<Handle>(), PubSub.shutdown)

  const addressesOf = (handle: Handle): ReadonlyArray<Address> => {
    const devices = bindings.get(handle)
    if (devices === undefined) return []
    const seen = new Set<string>()
    const all = [...devices.values()].flat().filter((a) => {
      const key = formatAddress(a)
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    return [...all.filter(isV6), ...all.filter((a) => !isV6(a))]
  }

  const register = (handle: Handle, deviceId: string, addresses: ReadonlyArray<Address>) =>
    Effect.suspend(() => {
      const devices = bindings.get(handle) ?? new Map<string, ReadonlyArray<Address>>()
      bindings.set(handle, devices)
      if (addresses.length === 0) devices.delete(deviceId)
      else devices.set(deviceId, [...addresses])
      return Effect.asVoid(PubSub.publish(changes, handle))
    })

  const directory: DirectoryService = {
    lookup: (handle) =>
      Effect.suspend(() =>
        bindings.has(handle)
          ? Effect.succeed({ handle, addresses: addressesOf(handle) })
          : Effect.fail(new DirectoryError({ reason: "NotFound", message: `${handle} is not registered.` }))
      ),
    watch: (handles) => {
      const wanted = new Set(handles)
      return Stream.filter(Stream.fromPubSub(changes), (h) => wanted.has(h))
    }
  }

  const presence = (handle: Handle, deviceId: string, addresses: Effect.Effect<ReadonlyArray<Address>>) =>
    Effect.gen(function* () {
      const events = yield* Effect.acquireRelease(PubSub.unbounded<PresenceEvent>(), PubSub.shutdown)
      let current: ReadonlyArray<Address> = []
      const refresh = Effect.gen(function* () {
        current = yield* addresses
        yield* register(handle, deviceId, current)
        const now = yield* Clock.currentTimeMillis
        yield* PubSub.publish(events, { _tag: "Registered", addresses: current, expiresAt: now + LEASE_MS })
      })
      yield* refresh
      yield* Effect.addFinalizer(() =>
        Effect.zipRight(register(handle, deviceId, []), PubSub.publish(events, { _tag: "Deregistered" }))
      )
      return {
        current: Effect.sync(() => current),
        refresh,
        events: Stream.fromPubSub(events)
      } satisfies PresenceService
    })

  return {
    directory,
    register,
    deregister: (handle, deviceId) => register(handle, deviceId, []),
    addressesOf,
    presence,
    presenceLayer: (handle, deviceId, wildcardHosts) =>
      Layer.scoped(
        Presence,
        Effect.flatMap(AgentListeners, (listeners) =>
          presence(handle, deviceId, Effect.succeed(concreteAddresses(listeners.addresses, wildcardHosts)))
        )
      )
  } satisfies MemoryDirectory
})
