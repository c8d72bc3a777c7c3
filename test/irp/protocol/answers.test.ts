/**
 * The server's Lookup answer cache seen from a client: what this server writes is seen at once, what
 * another process writes to the same SQLite file (the `sixchat irp` admin commands) within a second; and
 * the request log's lines read as they did when they were Effect log events.
 */
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Cause, Clock, Effect, FiberId, FiberRefs, HashMap, Layer, List, LogLevel } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { formatLine, formatRequest } from "../../../src/cli/serverLog.js"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import { REQUEST_MESSAGE, type RequestRecord } from "../../../src/layers/irp/server/requestLog.js"
import * as SqliteLive from "../../../src/layers/sql/SqliteLive.js"
import {
  baseLayer,
  buildRegistry,
  connect,
  enrol,
  makeDomain,
  removeTempDirs,
  startServer,
  tempDir
} from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

describe("Lookup answers", () => {
  it.live("this server's writes are seen at once; another process's writes to the SQLite file within a second", () =>
    Effect.gen(function* () {
      const file = join(tempDir(), "irp.sqlite")
      const onFile = () => buildRegistry(SqlRegistry.layer.pipe(Layer.provide(SqliteLive.layer(file))))
      const running = yield* startServer(domain, yield* onFile(), { lookupCacheEntries: 1000 })
      const alice = yield* enrol(running, "alice")
      const bob = yield* enrol(running, "bob")
      const bobClient = yield* connect(running, bob.identity)
      const aliceClient = yield* connect(running, alice.identity)
      // Bob's Lookup fills the cache; Alice's Register, answered, must not leave it stale.
      expect(yield* bobClient.lookup(alice.handle)).toMatchObject({ status: "good", bindings: [] })
      yield* aliceClient.register({
        deviceId: DeviceId.make("laptop"),
        addresses: [{ host: "192.0.2.1", port: 4605 } as never],
        ttlSeconds: 60,
        seq: Seq.make(1n)
      })
      expect((yield* bobClient.lookup(alice.handle)).bindings.map((b) => b.deviceId)).toEqual(["laptop"])
      yield* aliceClient.deregisterAll
      expect((yield* bobClient.lookup(alice.handle)).bindings).toEqual([])

      // The operator revokes Alice from another process (`sixchat irp revoke` opens the file itself).
      const admin = yield* onFile()
      yield* admin.revokeHandle({ handle: alice.handle, reason: "keyCompromise", at: yield* Clock.currentTimeMillis })
      const started = Date.now()
      const seen = yield* bobClient
        .lookup(alice.handle)
        .pipe(
          Effect.delay("20 millis"),
          Effect.repeat({ until: (r) => r.status === "revoked" }),
          Effect.timeout("3 seconds")
        )
      expect(seen.status).toBe("revoked")
      expect(Date.now() - started).toBeLessThan(1000)
    }).pipe(Effect.scoped, Effect.provide(baseLayer))
  )

  it("a request line reads byte for byte as the `irp request` event did, in text and in JSON", () => {
    const records: ReadonlyArray<RequestRecord> = [
      {
        peer: "alice@example.org",
        remote: "127.0.0.1:50123",
        request: "Lookup",
        id: "01J0000000000000000000000A",
        outcome: "ok",
        ms: 3
      },
      { peer: "anonymous", remote: "[::1]:4", request: 'invalid:odd "name"', id: "-", outcome: "bad_request", ms: 0 }
    ]
    const date = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678))
    for (const record of records) {
      const event = {
        fiberId: FiberId.none,
        logLevel: LogLevel.Info,
        message: REQUEST_MESSAGE,
        cause: Cause.empty,
        context: FiberRefs.empty(),
        spans: List.empty(),
        annotations: HashMap.fromIterable(Object.entries(record)),
        date
      }
      for (const format of ["text", "json"] as const)
        expect(formatRequest(format, record, date)).toBe(formatLine(format, event))
    }
    expect(formatRequest("text", records[0]!, date)).toBe(
      "2025-01-02T03:04:05.678Z INFO irp request request=Lookup outcome=ok peer=alice@example.org remote=127.0.0.1:50123 id=01J0000000000000000000000A ms=3"
    )
  })
})
