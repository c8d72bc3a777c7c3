/**
 * IrpPresence's schedule under the TestClock, over a scripted IRP connection: register at once,
 * renew at half the lease, register again at once when the host's addresses change or the
 * connection comes back, NAT warnings, retries, deregistration when the scope closes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Queue, Ref, Scope, Stream, TestClock } from "effect"
import { type Address, Handle, makeAddress } from "../../../src/domain/brands.js"
import { AgentListeners } from "../../../src/layers/agent/core/Listeners.js"
import type { InterfaceTable } from "../../../src/layers/agent/irp/hostAddresses.js"
import { IrpConnection } from "../../../src/layers/agent/irp/IrpConnection.js"
import * as IrpPresence from "../../../src/layers/agent/irp/IrpPresence.js"
import type { PresenceEvent } from "../../../src/services/Presence.js"
import { makeFakeConnection } from "./fakeConnection.js"

const alice = Handle.make("alice@example.org")
const START = Date.UTC(2030, 0, 1)

const settle = Effect.repeatN(Effect.yieldNow(), 100)

const table = (...hosts: ReadonlyArray<string>): InterfaceTable => ({
  lo: [
    { address: "127.0.0.1", family: "IPv4", internal: true },
    { address: "::1", family: "IPv6", internal: true }
  ],
  eth0: hosts.map((address) => ({ address, family: address.includes(":") ? "IPv6" : "IPv4", internal: false }))
})

const setup = (options: { listen?: ReadonlyArray<Address>; hosts?: ReadonlyArray<string> } = {}) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(START)
    const fake = yield* makeFakeConnection(alice, makeAddress("127.0.0.1", 4604))
    let interfaces = table(...(options.hosts ?? ["2001:db8::5", "192.0.2.7"]))
    const scope = yield* Scope.make()
    const presence = yield* IrpPresence.make({ deviceId: "laptop", interfaces: () => interfaces }).pipe(
      Effect.provide(
        Layer.mergeAll(
          Layer.succeed(IrpConnection, fake.service),
          Layer.succeed(AgentListeners, {
            listeners: [],
            addresses: options.listen ?? [makeAddress("::", 4605), makeAddress("0.0.0.0", 4605)]
          })
        )
      ),
      Scope.extend(scope)
    )
    const events = yield* Queue.unbounded<PresenceEvent>()
    yield* Effect.forkIn(
      Stream.runForEach(presence.events, (e) => Queue.offer(events, e)),
      scope
    )
    yield* settle
    return {
      fake,
      presence,
      scope,
      events: Effect.map(Queue.takeAll(events), Chunk.toReadonlyArray),
      registered: Effect.map(Ref.get(fake.registers), (all) =>
        all.map((r) => r.addresses.map((a) => `${a.host}|${a.port}`))
      ),
      setHosts: (...hosts: ReadonlyArray<string>) =>
        Effect.sync(() => {
          interfaces = table(...hosts)
        })
    }
  })

describe("IrpPresence schedule", () => {
  it.effect("registers at once with the host's addresses (IPv6 first) and renews at half the lease", () =>
    Effect.gen(function* () {
      const t = yield* setup()
      expect(yield* t.registered).toEqual([["2001:db8::5|4605", "192.0.2.7|4605"]])
      const first = (yield* Ref.get(t.fake.registers))[0]!
      expect(first.ttlSeconds).toBe(IrpPresence.DEFAULT_TTL_SECONDS)
      expect(first.deviceId).toBe("laptop")
      expect(first.seq).toBe(BigInt(START))
      expect(yield* t.presence.current).toHaveLength(2)

      yield* TestClock.adjust("149 seconds")
      expect(yield* t.registered).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      yield* settle
      const all = yield* Ref.get(t.fake.registers)
      expect(all).toHaveLength(2)
      expect(all[1]!.at - all[0]!.at).toBe(150_000)
      expect(all[1]!.seq > all[0]!.seq).toBe(true)
      const registered = (yield* t.events).filter((e) => e._tag === "Registered")
      expect(registered.length).toBeGreaterThanOrEqual(2)
      yield* Scope.close(t.scope, Exit.void)
    })
  )

  it.effect("registers again within one poll when the host's addresses change", () =>
    Effect.gen(function* () {
      const t = yield* setup()
      yield* t.setHosts("2001:db8::9", "192.0.2.7")
      yield* TestClock.adjust("5 seconds")
      yield* settle
      expect(yield* t.registered).toEqual([
        ["2001:db8::5|4605", "192.0.2.7|4605"],
        ["2001:db8::9|4605", "192.0.2.7|4605"]
      ])
      // Unchanged addresses: polling alone registers nothing more.
      yield* TestClock.adjust("30 seconds")
      yield* settle
      expect(yield* t.registered).toHaveLength(2)
      yield* Scope.close(t.scope, Exit.void)
    })
  )

  it.effect("registers loopback only when the host has nothing else", () =>
    Effect.gen(function* () {
      const t = yield* setup({ hosts: ["fe80::1"] })
      expect(yield* t.registered).toEqual([["::1|4605", "127.0.0.1|4605"]])
      yield* Scope.close(t.scope, Exit.void)
    })
  )

  it.effect("registers again at once after a reconnect", () =>
    Effect.gen(function* () {
      const t = yield* setup()
      yield* t.fake.goDown
      yield* settle
      yield* t.fake.reconnect
      yield* settle
      expect(yield* t.registered).toHaveLength(2)
      yield* Scope.close(t.scope, Exit.void)
    })
  )

  it.effect("a suspected NAT is reported once per observed address (event), not at every renewal", () =>
    Effect.gen(function* () {
      const t = yield* setup()
      yield* t.fake.setNat(makeAddress("203.0.113.9", 40000))
      yield* t.presence.refresh
      yield* settle
      yield* TestClock.adjust("150 seconds")
      yield* settle
      const nat = (yield* t.events).filter((e) => e._tag === "NatSuspected")
      expect(nat).toEqual([{ _tag: "NatSuspected", observed: makeAddress("203.0.113.9", 40000) }])
      expect((yield* Ref.get(t.fake.registers)).length).toBe(3)
      yield* Scope.close(t.scope, Exit.void)
    })
  )

  it.effect("a failed registration is reported and retried with backoff", () =>
    Effect.gen(function* () {
      const t = yield* setup()
      yield* t.fake.setFailing("rate_limited")
      yield* t.presence.refresh
      yield* settle
      const failed = (yield* t.events).filter((e) => e._tag === "RegistrationFailed")
      expect(failed).toHaveLength(1)
      yield* t.fake.setFailing(undefined)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* t.registered).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* t.registered).toHaveLength(2)
      yield* Scope.close(t.scope, Exit.void)
    })
  )

  it.effect("deregisters when its scope closes; the lease is not reported past its end", () =>
    Effect.gen(function* () {
      const t = yield* setup()
      yield* t.fake.goDown
      yield* TestClock.adjust("300 seconds")
      yield* settle
      expect(yield* t.presence.current).toEqual([])
      yield* t.fake.reconnect
      yield* settle
      expect(yield* t.presence.current).toHaveLength(2)
      yield* Scope.close(t.scope, Exit.void)
      expect(yield* Ref.get(t.fake.deregisters)).toBe(1)
    })
  )
})
