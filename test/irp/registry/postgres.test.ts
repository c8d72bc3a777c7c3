/**
 * The registry suite on the real PostgreSQL (see `test/support/postgres.ts`): a fresh schema per run,
 * a pool of several connections so that racing requests really race, and a second client layer on the
 * same schema standing for another `irp serve` process.
 */

import { expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { describe } from "vitest"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import { IrpRegistry } from "../../../src/services/IrpRegistry.js"
import { freshSchema, postgres, requirePostgresTest, schemaClient } from "../../support/postgres.js"
import { registrySuite } from "./suite.js"

requirePostgresTest()

/** One "process": its own pool and LISTEN connection on the shared schema. */
const registryProcess = SqlRegistry.layer.pipe(Layer.provide(schemaClient(8)))

describe.skipIf(!postgres.reachable)("PostgreSQL", () => {
  registrySuite("IrpRegistry on PostgreSQL", Layer.provideMerge(registryProcess, freshSchema), {
    anotherProcess: Effect.map(Layer.build(registryProcess), (context) => Context.get(context, IrpRegistry))
  })

  it.scoped("reads stay effectful: PostgreSQL offers no synchronous read", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(Layer.provideMerge(registryProcess, freshSchema))
      expect(Context.get(context, IrpRegistry).currentIdentityNow).toBeUndefined()
    })
  )
})
