/**
 * The core IRP flow on PostgreSQL (a fresh schema), and two server processes sharing it: a registration
 * made through one is seen at once by a Lookup and by a Watch through the other.
 */
import { expect, it } from "@effect/vitest"
import { type Context, Effect, Layer, Queue, Stream } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import type { IdentityChange } from "../../../src/services/IrpClient.js"
import { freshSchema, type PgTestSchema, postgres, requirePostgresTest, schemaClient } from "../../support/postgres.js"
import { flowSuite } from "./flow.js"
import {
  baseLayer,
  buildRegistry,
  connect,
  enrol,
  makeDomain,
  reasonOf,
  removeTempDirs,
  startServer
} from "./support.js"

requirePostgresTest()

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

/** One server "process": its own pool and LISTEN connection on the test schema. */
const process = (schema: Context.Context<PgTestSchema>) =>
  SqlRegistry.layer.pipe(Layer.provide(schemaClient(4)), Layer.provide(Layer.succeedContext(schema)))

describe.skipIf(!postgres.reachable)("IRP over TCP, PostgreSQL storage", () => {
  flowSuite(
    "PostgreSQL",
    () => domain,
    () => SqlRegistry.layer.pipe(Layer.provide(schemaClient(4)), Layer.provide(freshSchema))
  )

  it.live("two server processes on one database: Lookup and Watch through one see a Register through the other", () =>
    Effect.gen(function* () {
      const schema = yield* Layer.build(freshSchema)
      const first = yield* startServer(domain, yield* buildRegistry(process(schema)))
      const second = yield* startServer(domain, yield* buildRegistry(process(schema)))
      const alice = yield* enrol(first, "alice")
      const bob = yield* enrol(second, "bob")
      const bobOnSecond = yield* connect(second, bob.identity)
      const changes = yield* bobOnSecond.watch([alice.handle])
      const pushes = yield* Queue.unbounded<IdentityChange>()
      yield* Effect.forkScoped(Stream.runForEach(changes, (c) => Queue.offer(pushes, c)))
      const aliceOnFirst = yield* connect(first, alice.identity)
      yield* aliceOnFirst.register({
        deviceId: DeviceId.make("laptop"),
        addresses: [{ host: "192.0.2.1", port: 4605 } as never],
        ttlSeconds: 120,
        seq: Seq.make(1n)
      })
      const change = yield* Queue.take(pushes)
      expect([change.status, change.bindings.map((b) => b.deviceId)]).toEqual(["good", ["laptop"]])
      const found = yield* bobOnSecond.lookup(alice.handle)
      expect(found.status).toBe("good")
      expect(found.bindings.map((b) => b.addresses[0]?.host)).toEqual(["192.0.2.1"])
      // A revocation through the first process: the second pushes it, and its Lookup says so.
      yield* aliceOnFirst.revoke(alice.serial as never, "keyCompromise")
      const revoked = yield* Queue.take(pushes)
      expect([revoked.status, revoked.bindings]).toEqual(["revoked", []])
      expect((yield* bobOnSecond.lookup(alice.handle)).status).toBe("revoked")
      // ... and the second process refuses Alice's certificate at the handshake.
      expect(yield* reasonOf(Effect.scoped(connect(second, alice.identity)))).toBe("unauthorized")
    }).pipe(Effect.scoped, Effect.provide(baseLayer))
  )
})
