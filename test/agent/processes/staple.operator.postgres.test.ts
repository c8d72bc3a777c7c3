/**
 * `irp revoke --handle carol` on PostgreSQL (the IRP serves a fresh schema; the revoke is another
 * process writing it) while Bob does not watch Carol: Bob closes her live session and refuses her
 * within the staple lifetime (PROTOCOL.md §13.6.3, §17.12; `stapleOperator.ts`).
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, it } from "vitest"
import { freshSchema, PG_URL, PgTestSchema, postgres, requirePostgresTest } from "../../support/postgres.js"
import { type OperatorWorld, operatorRevokesCarol, setUp } from "./stapleOperator.js"

requirePostgresTest()

describe.skipIf(!postgres.reachable)("operator revocation reaches an agent that does not watch (PostgreSQL)", () => {
  const scope = Effect.runSync(Scope.make())
  let world: OperatorWorld

  beforeAll(async () => {
    const context = await Effect.runPromise(Layer.buildWithScope(freshSchema, scope))
    const url = new URL(PG_URL)
    url.searchParams.set("schema", Context.get(context, PgTestSchema).schema)
    world = await setUp({ db: url.toString() })
  }, 120_000)

  afterAll(async () => {
    await world?.stop()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 30_000)

  it("bob closes and refuses carol within the staple lifetime", () => operatorRevokesCarol(world, "postgres"), 90_000)
})
