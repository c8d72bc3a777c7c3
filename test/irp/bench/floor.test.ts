/**
 * The benchmark's floor (`bench/irp/floor.ts`) does the real work it claims to measure: over real
 * TCP on loopback, a Lookup is answered from a real SQLite registry file with the stored certificate
 * and binding, and a connection it cannot serve ends instead of hanging.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { connectFloor, floorServer } from "../../../bench/irp/floor.js"
import { fillerHandle, populate } from "../../../bench/irp/setup.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as SqliteLive from "../../../src/layers/sql/SqliteLive.js"
import { IrpRegistry } from "../../../src/services/IrpRegistry.js"
import { makeTestPki } from "../../support/identities.js"

it.scoped(
  "the floor answers a Lookup with the registry's certificate and binding, and ends a connection it cannot serve",
  () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-floor-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      const pki = makeTestPki()
      const leaf = pki.identity(fillerHandle(0)).chain[0]!
      const context = yield* Layer.build(
        SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(join(dir, "irp.db"))))
      )
      const now = Date.now()
      yield* Effect.provideService(
        populate({ from: 0, to: 5, der: leaf, fingerprint: createHash("sha256").update(leaf).digest("hex"), now }),
        SqlClient.SqlClient,
        Context.get(context, SqlClient.SqlClient)
      )
      const port = yield* Effect.promise(() => floorServer(Context.get(context, IrpRegistry), [pki.caDer]))
      const conn = yield* Effect.acquireRelease(
        Effect.promise(() => connectFloor(port)),
        (c) => Effect.sync(() => c.close())
      )

      for (const n of [3, 4]) {
        const answer = yield* Effect.promise(() => conn.lookup(fillerHandle(n)))
        expect(answer.handle).toBe(fillerHandle(n))
        expect(answer.status).toBe("good")
        expect(answer.chain.map((der) => Buffer.from(der).toString("hex"))).toEqual(
          [leaf, pki.caDer].map((der) => Buffer.from(der).toString("hex"))
        )
        expect(answer.bindings.map((b) => [b.deviceId, b.addresses.map((a) => `${a.host}:${a.port}`)])).toEqual([
          ["d1", ["192.0.2.1:4605"]]
        ])
      }

      // No such identity: the instrument answers Lookups of registered identities only, and says so by
      // ending the connection; the waiting lookup fails instead of hanging.
      const missing = yield* Effect.promise(() =>
        conn.lookup(fillerHandle(99)).then(
          () => "answered",
          (e: Error) => e.message
        )
      )
      expect(missing).toMatch(/closed the connection/)
    })
)
