/**
 * The core IRP flow on PostgreSQL (a fresh schema), and two server processes sharing it: a registration
 * made through one is seen at once by a Lookup and by a Watch through the other.
 */
import { expect, it } from "@effect/vitest"
import { type Context, Effect, Fiber, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import { freshSchema, type PgTestSchema, postgres, requirePostgresTest, schemaClient } from "../../support/postgres.js"
import { flowSuite } from "./flow.js"
import { baseLayer, buildRegistry, connect, enrol, makeDomain, removeTempDirs, startServer } from "./support.js"

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
      const pushed = yield* Effect.fork(Stream.runHead(changes))
      const aliceOnFirst = yield* connect(first, alice.identity)
      yield* aliceOnFirst.register({
        deviceId: DeviceId.make("laptop"),
        addresses: [{ host: "192.0.2.1", port: 4605 } as never],
        ttlSeconds: 120,
        seq: Seq.make(1n)
      })
      const change = yield* Fiber.join(pushed)
      expect(change._tag === "Some" && change.value.bindings.map((b) => b.deviceId)).toEqual(["laptop"])
      const found = yield* bobOnSecond.lookup(alice.handle)
      expect(found.status).toBe("good")
      expect(found.bindings.map((b) => b.addresses[0]?.host)).toEqual(["192.0.2.1"])
    }).pipe(Effect.scoped, Effect.provide(baseLayer))
  )
})
