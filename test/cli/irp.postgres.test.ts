/**
 * The operator + user flow of `irpFlow.ts` through the built binary on PostgreSQL (a fresh schema, named
 * with `?schema=` in the `--db` URL), with the JSON request log.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshSchema, PG_URL, PgTestSchema, postgres, requirePostgresTest } from "../support/postgres.js"
import { operatorAndUserFlow, type Workspace, workspace } from "./irpFlow.js"

requirePostgresTest()

/** `--db` for the schema: the test database URL plus `schema=NAME`. */
export const dbUrl = (schema: string): string => {
  const url = new URL(PG_URL)
  url.searchParams.set("schema", schema)
  return url.toString()
}

describe.skipIf(!postgres.reachable)(
  "sixchat irp serve + id enroll + register + lookup + revoke (PostgreSQL, processes)",
  () => {
    const scope = Effect.runSync(Scope.make())
    let schema = ""
    let ws: Workspace
    beforeAll(async () => {
      ws = workspace()
      const context = await Effect.runPromise(Layer.buildWithScope(freshSchema, scope))
      schema = Context.get(context, PgTestSchema).schema
    })
    afterAll(async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      ws.cleanup()
    })

    it("an operator stands up a domain on PostgreSQL; two users enrol, register, look up and revoke; SIGTERM exits 0", async () => {
      const log = await operatorAndUserFlow(ws, ["--db", dbUrl(schema)], "json")
      const requests = log
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => r.message === "irp request")
      expect(requests.map((r) => `${r.request}:${r.outcome}`)).toEqual(
        expect.arrayContaining(["Enroll:ok", "Register:ok", "Lookup:ok", "Revoke:ok"])
      )
      expect(log).toContain(`search_path%3D${schema}`)
    })
  }
)
