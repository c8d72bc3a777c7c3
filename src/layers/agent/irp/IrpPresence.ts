/**
 * Presence over the IRP (PROTOCOL.md §17 `Register` / `Deregister`; issue 4, section 1): keeps this
 * device's binding registered under its stable device id (`identity.json`).
 *
 * * Registers at start (as soon as the IRP connection is up) the addresses peers can reach
 *   (`hostAddresses.ts`: the listeners, wildcards as the host's usable addresses).
 * * Renews at `renewAt` of the lease (default half of 300 s), so one lost renewal still leaves time.
 * * Polls the host's interfaces every `pollInterval` (default 5 s; Node has no change notification)
 *   and registers again at once when the addresses changed: a mobile node moves, peers follow.
 * * Registers again after every reconnect (the server may have lost nothing, but our source address
 *   may be new, and a lease that lapsed while we were away is restored at once).
 * * `seq` grows per registration and starts from the clock in milliseconds, so it also grows across
 *   restarts (PROTOCOL.md §17: "`seq` must grow per device").
 * * Warns (event and log line) when the IRP flags a suspected NAT: it saw us from an address we did
 *   not register, so peers probably cannot reach the registered ones.
 * * Deregisters when its scope closes (the agent stops), bounded by `deregisterTimeout`.
 *
 * A failed registration is retried with backoff (2 s doubling to 60 s) and reported as
 * `RegistrationFailed`.
 */
import { networkInterfaces } from "node:os"
import { Clock, Duration, Effect, Layer, PubSub, Queue, type Scope, Stream } from "effect"
import type { Address, Handle } from "../../../domain/brands.js"
import type { WireAddress } from "../../../domain/irp/messages.js"
import { DeviceId, Seq } from "../../../domain/irp/registry.js"
import type { IrpClientError } from "../../../services/IrpClient.js"
import { Presence, type PresenceEvent, type PresenceService } from "../../../services/Presence.js"
import { AgentListeners } from "../core/Listeners.js"
import { addressesKey, advertisedAddresses, type InterfaceTable } from "./hostAddresses.js"
import { IrpConnection } from "./IrpConnection.js"

export interface IrpPresenceOptions {
  /** This device's stable id (`identity.json`'s `deviceId`). */
  readonly deviceId: string
  /** Lease asked for, seconds (default 300; the server accepts 30 s to 1 hour by default). */
  readonly ttlSeconds?: number | undefined
  /** Fraction of the lease after which it is renewed (default 0.5). */
  readonly renewAt?: number | undefined
  /** How often the host's addresses are compared with the registered ones (default 5 s). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** First retry delay after a failed registration (default 2 s, doubling to 60 s). */
  readonly retryBase?: Duration.DurationInput | undefined
  /** Longest the deregistration may take at shutdown (default 3 s). */
  readonly deregisterTimeout?: Duration.DurationInput | undefined
  /** The host's interfaces (default `os.networkInterfaces`); tests pass their own. */
  readonly interfaces?: (() => InterfaceTable) | undefined
}

export const DEFAULT_TTL_SECONDS = 300

/** The host's interfaces; none when the system will not say (some sandboxes refuse the call). */
const hostInterfaces = (): InterfaceTable => {
  try {
    return networkInterfaces() as InterfaceTable
  } catch {
    return {}
  }
}

const millis = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

interface Registration {
  readonly addresses: ReadonlyArray<Address>
  readonly key: string
  readonly expiresAt: number
  readonly renewAt: number
  readonly generation: number
}

export const make = (
  options: IrpPresenceOptions
): Effect.Effect<PresenceService, never, IrpConnection | AgentListeners | Scope.Scope> =>
  Effect.gen(function* () {
    const connection = yield* IrpConnection
    const listeners = yield* AgentListeners
    const deviceId = DeviceId.make(options.deviceId)
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
    const renewAfterMs = ttlSeconds * 1000 * Math.min(0.9, Math.max(0.1, options.renewAt ?? 0.5))
    const pollMs = millis(options.pollInterval ?? Duration.seconds(5))
    const retryBaseMs = millis(options.retryBase ?? Duration.seconds(2))
    const interfaces = options.interfaces ?? hostInterfaces
    const handle: Handle = connection.handle

    const hub = yield* Effect.acquireRelease(PubSub.unbounded<PresenceEvent>(), PubSub.shutdown)
    const wake = yield* Queue.sliding<void>(1)
    let registration: Registration | undefined
    let lastNat: Address | undefined
    let lastFailure: PresenceEvent | undefined
    let lastSeq = 0n
    let failures = 0
    let retryAt = 0
    let forced = false
    /** The last attempt failed: try again (after `retryAt`) even if nothing else calls for it. */
    let pendingRetry = false
    let warnedNoAddress = false

    const publish = (event: PresenceEvent) => Effect.asVoid(PubSub.publish(hub, event))
    const advertised = Effect.sync(() => advertisedAddresses(listeners.addresses, interfaces()))
    const nextSeq = (now: number) => {
      const byClock = BigInt(Math.floor(now))
      lastSeq = byClock > lastSeq ? byClock : lastSeq + 1n
      return Seq.make(lastSeq)
    }

    const onFailure = (e: IrpClientError, now: number) =>
      Effect.gen(function* () {
        failures++
        pendingRetry = true
        retryAt = now + Math.min(60_000, retryBaseMs * 2 ** Math.min(10, failures - 1))
        // A counter behind the server's (our clock went back): jump ahead rather than stay refused.
        if (e.reason === "stale_sequence") lastSeq += 60_000n
        const event: PresenceEvent = {
          _tag: "RegistrationFailed",
          message: `Registering ${handle} with the IRP failed (${e.message}); retrying in ${Math.round((retryAt - now) / 1000)} s.`
        }
        lastFailure = event
        yield* publish(event)
        if (failures === 1 || failures % 10 === 0) yield* Effect.logWarning(`agent: ${event.message}`)
      })

    const register = (addresses: ReadonlyArray<Address>, generation: number) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const result = yield* Effect.either(
          connection.useNow((client) =>
            client.register({
              deviceId,
              addresses: addresses as unknown as ReadonlyArray<WireAddress>,
              ttlSeconds,
              seq: nextSeq(now)
            })
          )
        )
        if (result._tag === "Left") return yield* onFailure(result.left, now)
        const answer = result.right
        const mine = answer.bindings.find((b) => b.deviceId === deviceId)
        registration = {
          addresses,
          key: addressesKey(addresses),
          expiresAt: mine?.expiresAt ?? now + ttlSeconds * 1000,
          renewAt: now + renewAfterMs,
          generation
        }
        failures = 0
        retryAt = 0
        pendingRetry = false
        lastFailure = undefined
        yield* publish({ _tag: "Registered", addresses, expiresAt: registration.expiresAt })
        const observed = answer.observed as Address | undefined
        if (answer.natSuspected && observed !== undefined) {
          if (observed.host !== lastNat?.host) {
            lastNat = observed
            yield* publish({ _tag: "NatSuspected", observed })
            yield* Effect.logWarning(
              `agent: the IRP sees this device at ${observed.host}, which is none of the registered addresses (${registration.key}): a NAT is probably in the way and peers may not reach this device; use IPv6 or a public IPv4 address`
            )
          }
        } else lastNat = undefined
      })

    /** One pass: registers when something calls for it; returns the time of the next pass. */
    const pass = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const state = yield* connection.state
      const addresses = yield* advertised
      if (addresses.length === 0 && !warnedNoAddress) {
        warnedNoAddress = true
        yield* Effect.logWarning(
          "agent: this host has no address to register (no network interface is up); peers cannot reach it until one is"
        )
      } else if (addresses.length > 0) warnedNoAddress = false
      if (state._tag === "Up" && addresses.length > 0) {
        const r = registration
        const due =
          forced ||
          pendingRetry ||
          r === undefined ||
          r.generation !== state.generation ||
          r.key !== addressesKey(addresses) ||
          now >= r.renewAt
        if (due && now >= retryAt) {
          forced = false
          yield* register(addresses, state.generation)
        }
      }
      const after = yield* Clock.currentTimeMillis
      let next = after + pollMs
      // (Down, or waiting for `retryAt`: a renewal time already past must not make this spin.)
      if (registration !== undefined && registration.renewAt > after) next = Math.min(next, registration.renewAt)
      if (retryAt > after) next = Math.min(next, retryAt)
      return next
    })

    const loop = Effect.forever(
      Effect.gen(function* () {
        const next = yield* pass
        const now = yield* Clock.currentTimeMillis
        yield* Effect.raceFirst(Queue.take(wake), Effect.sleep(Duration.millis(next - now)))
      })
    )

    // Deregister on shutdown: added before the loop is forked, so it runs after the loop is stopped.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        if (registration === undefined) return
        const done = yield* Effect.either(
          connection
            .useNow((client) => client.deregister(deviceId))
            .pipe(
              Effect.timeoutFail({
                duration: options.deregisterTimeout ?? Duration.seconds(3),
                onTimeout: () => "the IRP did not answer in time"
              })
            )
        )
        registration = undefined
        if (done._tag === "Left")
          yield* Effect.logWarning(
            `agent: could not deregister from the IRP (${typeof done.left === "string" ? done.left : done.left.message}); the binding lapses when its lease ends`
          )
        yield* publish({ _tag: "Deregistered" })
      })
    )
    // Every (re)connection registers at once.
    yield* Effect.forkScoped(Stream.runForEach(connection.connections, () => Queue.offer(wake, undefined)))
    yield* Effect.forkScoped(loop)

    const current = Effect.map(Clock.currentTimeMillis, (now) =>
      registration !== undefined && now < registration.expiresAt ? registration.addresses : []
    )
    /** What a new subscriber should know at once: the last registration, NAT warning or failure. */
    const snapshot = Effect.sync((): ReadonlyArray<PresenceEvent> => {
      const out: Array<PresenceEvent> = []
      if (registration !== undefined)
        out.push({ _tag: "Registered", addresses: registration.addresses, expiresAt: registration.expiresAt })
      if (lastNat !== undefined) out.push({ _tag: "NatSuspected", observed: lastNat })
      if (lastFailure !== undefined) out.push(lastFailure)
      return out
    })

    return {
      current,
      refresh: Effect.zipRight(
        Effect.sync(() => {
          forced = true
          retryAt = 0
        }),
        Queue.offer(wake, undefined)
      ),
      events: Stream.unwrapScoped(
        Effect.gen(function* () {
          const subscription = yield* PubSub.subscribe(hub)
          const first = yield* snapshot
          return Stream.concat(Stream.fromIterable(first), Stream.fromQueue(subscription))
        })
      )
    } satisfies PresenceService
  })

export const layer = (options: IrpPresenceOptions): Layer.Layer<Presence, never, IrpConnection | AgentListeners> =>
  Layer.scoped(Presence, make(options))
