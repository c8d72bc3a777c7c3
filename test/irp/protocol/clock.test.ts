/**
 * What the Clock drives, under `TestClock` over real TCP: token expiry, lease expiry (an expired binding is
 * never handed out), and the token buckets of the rate limits (over the limit: `rate_limited`, and the same
 * connection works again once the bucket refilled).
 */
import { expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import {
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

const env = quietLayer
/** TestClock starts at the epoch; certificates are checked against it, so start it at the real now. */
const atRealNow = TestClock.setTime(Date.now())
const server = (policy?: Parameters<typeof startServer>[2]) => sqliteServer(domain, policy)

describe("IRP under TestClock", () => {
  it.scoped("an enrolment token expires", () =>
    Effect.gen(function* () {
      yield* atRealNow
      const running = yield* server()
      const alice = handle("alice")
      const token = yield* newToken(running.registry, alice, 60_000)
      const key = yield* newKey
      const client = yield* connect(running, null)
      yield* TestClock.adjust("61 seconds")
      const expired = yield* Effect.flip(client.enroll({ handle: alice, token, csr: yield* key.csrFor(alice) }))
      expect([expired.reason, expired.message]).toEqual(["token_invalid", expect.stringMatching(/expired/)])
    }).pipe(Effect.provide(env))
  )

  it.scoped("a lease ends on time: the binding is never returned once expired", () =>
    Effect.gen(function* () {
      yield* atRealNow
      const running = yield* server()
      const alice = yield* enrol(running, "alice")
      const bob = yield* enrol(running, "bob")
      const aliceClient = yield* connect(running, alice.identity)
      const bobClient = yield* connect(running, bob.identity)
      yield* aliceClient.register({
        deviceId: DeviceId.make("phone"),
        addresses: [{ host: "192.0.2.1", port: 4605 } as never],
        ttlSeconds: 30,
        seq: Seq.make(1n)
      })
      yield* TestClock.adjust("29 seconds")
      expect((yield* bobClient.lookup(alice.handle)).bindings).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      const after = yield* bobClient.lookup(alice.handle)
      expect(after).toMatchObject({ status: "good", bindings: [] })
    }).pipe(Effect.provide(env))
  )

  it.scoped("anonymous requests are limited per source address; the connection stays usable", () =>
    Effect.gen(function* () {
      yield* atRealNow
      const running = yield* server({
        rateLimits: {
          anonymous: { burst: 3, perSecond: 1 },
          authenticated: { burst: 100, perSecond: 100 },
          maxTrackedKeys: 100
        }
      })
      const first = yield* connect(running, null)
      const second = yield* connect(running, null)
      yield* first.ping
      yield* second.ping
      yield* first.ping
      // The bucket of 127.0.0.1 is shared by both connections, and now empty.
      const limited = yield* Effect.flip(second.status("1" as never))
      expect(limited.reason).toBe("rate_limited")
      expect(limited.retryAfterMs).toBe(1000)
      expect(yield* reasonOf(first.ping)).toBe("rate_limited")
      yield* TestClock.adjust("1 second")
      expect((yield* second.status("1" as never)).status).toBe("unknown")
    }).pipe(Effect.provide(env))
  )

  it.scoped("authenticated requests are limited per identity, not per connection or address", () =>
    Effect.gen(function* () {
      yield* atRealNow
      const running = yield* server({
        rateLimits: {
          anonymous: { burst: 100, perSecond: 100 },
          authenticated: { burst: 4, perSecond: 2 },
          maxTrackedKeys: 100
        }
      })
      const alice = yield* enrol(running, "alice")
      const bob = yield* enrol(running, "bob")
      const one = yield* connect(running, alice.identity) // its handshake check costs 1
      const two = yield* connect(running, alice.identity) // 1 more
      yield* one.lookup(bob.handle)
      yield* two.lookup(bob.handle)
      expect(yield* reasonOf(one.lookup(bob.handle))).toBe("rate_limited")
      // Bob has a bucket of his own.
      const bobClient = yield* connect(running, bob.identity)
      expect((yield* bobClient.lookup(alice.handle)).status).toBe("good")
      yield* TestClock.adjust("500 millis")
      expect((yield* one.lookup(bob.handle)).status).toBe("good")
    }).pipe(Effect.provide(env))
  )
})
