/**
 * The operator + user flow of `irpFlow.ts` through the built binary on PostgreSQL (a fresh schema, named
 * with `?schema=` in the `--db` URL), with the JSON request log.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshSchema, PG_URL, PgTestSchema, postgres, requirePostgresTest } from "../support/postgres.js"
import { enrolUser, ok, operatorAndUserFlow, serve, stop, type Workspace, workspace } from "./irpFlow.js"

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

    it("irp init --db postgres://… records the storage: token and serve without --db meet there, enrolment succeeds", async () => {
      const other = workspace()
      try {
        const url = dbUrl(schema)
        await ok(["irp", "init", "--dir", other.dir, "--domain", "example.org", "--db", url])
        const served = await serve(other.dir)
        try {
          expect(served.process.stderr).toContain(`search_path%3D${schema}`)
          // enrolUser runs `irp token` without --db: the token must reach PostgreSQL, not an SQLite file.
          await enrolUser(other, served, "erin")
          expect(existsSync(join(other.dir, "irp.sqlite"))).toBe(false)
        } finally {
          expect(await stop(served)).toBe(0)
        }
      } finally {
        other.cleanup()
      }
    })
  }
)
