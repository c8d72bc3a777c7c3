/**
 * Every refusal of the IRP over real TCP (issue 3, sections 1, 2 and 5; PROTOCOL.md §17), each an
 * `<Error>` answer on a connection that stays usable.
 */
import { expect, it } from "@effect/vitest"
import { Effect, type Layer, Logger } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import {
  baseLayer,
  connect,
  enrol,
  handle,
  makeDomain,
  newKey,
  newToken,
  quietLayer,
  reasonOf,
  removeTempDirs,
  sqliteServer,
  type startServer
} from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

const quiet = quietLayer
const run = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof baseLayer> | import("effect").Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(quiet))
const server = (policy?: Parameters<typeof startServer>[2]) => sqliteServer(domain, policy)
const v4 = { host: "192.0.2.1", port: 4605 } as never

describe("IRP refusals", () => {
  it.live("Enroll: unknown, malformed, reused and wrong-handle tokens are token_invalid", () =>
    run(
      Effect.gen(function* () {
        const running = yield* server()
        const alice = handle("alice")
        const key = yield* newKey
        const csr = yield* key.csrFor(alice)
        const client = yield* connect(running, null)
        const unknown = `sxe1-${"A".repeat(43)}`
        expect(yield* reasonOf(client.enroll({ handle: alice, token: unknown, csr }))).toBe("token_invalid")
        expect(yield* reasonOf(client.enroll({ handle: alice, token: "hello", csr }))).toBe("token_invalid")
        const bobs = yield* newToken(running.registry, handle("bob"))
        expect(yield* reasonOf(client.enroll({ handle: alice, token: bobs, csr }))).toBe("token_invalid")
        const token = yield* newToken(running.registry, alice)
        const issued = yield* client.enroll({ handle: alice, token, csr })
        expect(issued.chain).toHaveLength(2)
        const again = yield* Effect.flip(client.enroll({ handle: alice, token, csr }))
        expect(again.reason).toBe("token_invalid")
        expect(again.message).toMatch(/already used/)
      })
    )
  )

  it.live("Enroll: a CSR for another handle or with a bad signature is csr_invalid and leaves the token usable", () =>
    run(
      Effect.gen(function* () {
        const running = yield* server()
        const alice = handle("alice")
        const token = yield* newToken(running.registry, alice)
        const key = yield* newKey
        const client = yield* connect(running, null)
        const forMallory = yield* key.csrFor(handle("mallory"))
        const wrongName = yield* Effect.flip(client.enroll({ handle: alice, token, csr: forMallory }))
        expect(wrongName.reason).toBe("csr_invalid")
        expect(wrongName.message).toMatch(/alice@example.org/)
        const good = yield* key.csrFor(alice)
        const tampered = good.slice()
        tampered[tampered.length - 3]! ^= 0x01
        const badSignature = yield* Effect.flip(client.enroll({ handle: alice, token, csr: tampered }))
        expect(badSignature.reason).toBe("csr_invalid")
        expect(badSignature.message).toMatch(/proof of possession|signature/)
        const garbage = yield* reasonOf(client.enroll({ handle: alice, token, csr: new Uint8Array([1, 2, 3]) }))
        expect(garbage).toBe("csr_invalid")
        // The token survived all of that.
        const issued = yield* client.enroll({ handle: alice, token, csr: good })
        expect(issued.serial).toMatch(/^[0-9a-f]+$/)
        // A handle of another domain is not this server's to enrol.
        const foreign = handle("eve", "example.net")
        const foreignToken = yield* newToken(running.registry, foreign)
        const foreignCsr = yield* key.csrFor(foreign)
        expect(yield* reasonOf(client.enroll({ handle: foreign, token: foreignToken, csr: foreignCsr }))).toBe(
          "forbidden"
        )
      })
    )
  )

  it.live("anonymous connections may only Enroll, Status, Crl and Ping; the connection stays usable", () =>
    run(
      Effect.gen(function* () {
        const running = yield* server()
        const alice = yield* enrol(running, "alice")
        const anonymous = yield* connect(running, null)
        const register = yield* Effect.flip(
          anonymous.register({ deviceId: DeviceId.make("d"), addresses: [v4], ttlSeconds: 60, seq: Seq.make(1n) })
        )
        expect(register.reason).toBe("unauthorized")
        expect(register.message).toMatch(/certificate/)
        expect(yield* reasonOf(anonymous.lookup(alice.handle))).toBe("unauthorized")
        expect(yield* reasonOf(anonymous.renew(new Uint8Array([1])))).toBe("unauthorized")
        expect(yield* reasonOf(anonymous.revoke(alice.serial as never))).toBe("unauthorized")
        expect(yield* reasonOf(anonymous.deregisterAll)).toBe("unauthorized")
        expect(yield* reasonOf(Effect.scoped(anonymous.watch([alice.handle])))).toBe("unauthorized")
        expect((yield* anonymous.status(alice.serial as never)).status).toBe("good")
        expect((yield* anonymous.status("abc" as never)).status).toBe("unknown")
        expect((yield* anonymous.crl).length).toBeGreaterThan(100)
        yield* anonymous.ping
      })
    )
  )

  it.live("a policy may allow anonymous Lookup", () =>
    run(
      Effect.gen(function* () {
        const running = yield* server({ allowAnonymousLookup: true })
        const alice = yield* enrol(running, "alice")
        const anonymous = yield* connect(running, null)
        expect((yield* anonymous.lookup(alice.handle)).status).toBe("good")
      })
    )
  )

  it.live("holders: stale seq, lease bounds, device cap, foreign handles, another's serial, enrolling again", () =>
    run(
      Effect.gen(function* () {
        const running = yield* server()
        const alice = yield* enrol(running, "alice")
        const bob = yield* enrol(running, "bob")
        const client = yield* connect(running, alice.identity)
        const register = (device: string, seq: bigint, ttlSeconds = 60) =>
          client.register({ deviceId: DeviceId.make(device), addresses: [v4], ttlSeconds, seq: Seq.make(seq) })
        yield* register("laptop", 5n)
        expect(yield* reasonOf(register("laptop", 5n))).toBe("stale_sequence")
        expect(yield* reasonOf(register("laptop", 4n))).toBe("stale_sequence")
        yield* register("laptop", 6n)
        const short = yield* Effect.flip(register("laptop", 7n, 10))
        expect([short.reason, short.message]).toEqual(["lease_too_short", expect.stringMatching(/at least 30 s/)])
        expect(yield* reasonOf(register("laptop", 7n, 100_000))).toBe("lease_too_long")
        for (let i = 1; i < 8; i++) yield* register(`device-${i}`, 1n)
        expect(yield* reasonOf(register("one-too-many", 1n))).toBe("too_many_devices")
        yield* client.deregister(DeviceId.make("device-1"))
        yield* register("one-too-many", 1n)
        // Bindings belong to the authenticated handle; another's certificate is not ours to revoke.
        const forbidden = yield* Effect.flip(client.revoke(bob.serial as never))
        expect([forbidden.reason, forbidden.message]).toEqual(["forbidden", expect.stringMatching(/holder/)])
        expect(yield* reasonOf(client.revoke("123456" as never))).toBe("not_found")
        // Another domain's handle on a server that does not federate (§22.5): refused, saying so.
        expect(yield* reasonOf(client.lookup(handle("carol", "example.net")))).toBe("federation_refused")
        expect(yield* reasonOf(Effect.scoped(client.watch([handle("carol", "example.net")])))).toBe(
          "federation_refused"
        )
        const token = yield* newToken(running.registry, handle("alice2"))
        const key = yield* newKey
        const enrolAgain = client.enroll({ handle: handle("alice2"), token, csr: yield* key.csrFor(handle("alice2")) })
        expect(yield* reasonOf(enrolAgain)).toBe("forbidden")
        // A Renew CSR must name the holder.
        expect(yield* reasonOf(client.renew(yield* key.csrFor(bob.handle)))).toBe("csr_invalid")
        // Still usable after all of that; Bob's certificate is untouched.
        expect((yield* client.lookup(bob.handle)).status).toBe("good")
        const mine = yield* client.lookup(alice.handle)
        expect(mine.bindings.map((b) => b.deviceId)).toContain("one-too-many")
        yield* client.deregisterAll
        expect((yield* client.lookup(alice.handle)).bindings).toEqual([])
      })
    )
  )

  it.live("watching more handles than a connection may is bad_request", () =>
    run(
      Effect.gen(function* () {
        const running = yield* server({ maxWatchesPerConnection: 3 })
        const alice = yield* enrol(running, "alice")
        const client = yield* connect(running, alice.identity)
        yield* client.watch([handle("a"), handle("b")])
        expect(yield* reasonOf(Effect.scoped(client.watch([handle("c"), handle("d")])))).toBe("bad_request")
        yield* Effect.scoped(client.watch([handle("c")]))
        // That scope closed: "c" is unwatched again, so there is room for one more.
        yield* client.watch([handle("e")])
      })
    )
  )

  it.live("one log line per request with peer, request, outcome and duration", () =>
    Effect.gen(function* () {
      const lines: Array<Record<string, unknown>> = []
      const capture = Logger.make(({ message, annotations }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        if (text === "irp request") lines.push(Object.fromEntries(annotations))
      })
      yield* Effect.gen(function* () {
        const running = yield* server()
        const alice = yield* enrol(running, "alice")
        const client = yield* connect(running, alice.identity)
        yield* Effect.flip(client.revoke("ff" as never))
      }).pipe(Effect.scoped, Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect(lines.map((l) => [l.peer, l.request, l.outcome])).toEqual([
        ["anonymous", "Enroll", "ok"],
        ["alice@example.org", "Ping", "ok"],
        ["alice@example.org", "Revoke", "not_found"]
      ])
      for (const l of lines) {
        expect(l.remote).toMatch(/^127\.0\.0\.1:\d+$/)
        expect(typeof l.ms).toBe("number")
        expect(l.id).toMatch(/^[0-9A-Z]{26}$/)
      }
    }).pipe(Effect.provide(baseLayer))
  )
})
