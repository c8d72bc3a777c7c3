/** Choosing the storage from `--db`, and the PostgreSQL `search_path` option. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer } from "effect"
import { Handle } from "../../../src/domain/brands.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as Database from "../../../src/layers/sql/Database.js"
import { withSearchPath } from "../../../src/layers/sql/PgLive.js"
import { IrpRegistry } from "../../../src/services/IrpRegistry.js"

describe("parseDatabaseSpec", () => {
  it("knows sqlite:PATH and postgres URLs", () => {
    expect(Database.parseDatabaseSpec("sqlite:/var/lib/irp.db")).toEqual({ _tag: "Sqlite", path: "/var/lib/irp.db" })
    expect(Database.parseDatabaseSpec("postgresql://db/irp")).toEqual({ _tag: "Postgres", url: "postgresql://db/irp" })
    expect(Database.parseDatabaseSpec("postgres://u@h:5432/d")?._tag).toBe("Postgres")
    expect(Database.parseDatabaseSpec("sqlite:")).toBeUndefined()
    expect(Database.parseDatabaseSpec("mysql://h/d")).toBeUndefined()
  })

  it.effect("refuses anything else with a sentence", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Layer.build(Database.layerFromString("irp.db")).pipe(Effect.scoped))
      expect(error.message).toContain("use sqlite:PATH or postgres://HOST/DB")
    })
  )

  it.scoped("sqlite:PATH gives a working registry", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-db-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      const context = yield* Layer.build(
        SqlRegistry.layer.pipe(Layer.provide(Database.layerFromString(`sqlite:${join(dir, "irp.db")}`)))
      )
      const registry = Context.get(context, IrpRegistry)
      const now = yield* Clock.currentTimeMillis
      expect(yield* registry.lookup({ handle: Handle.make("x@example.org"), now })).toEqual([])
    })
  )
})

describe("withSearchPath", () => {
  it("adds the start-up option, keeping the rest of the URL", () => {
    const url = withSearchPath("postgres://postgres@127.0.0.1:5432/test?application_name=a", "sixchat_x")
    expect(url).toBeDefined()
    const parsed = new URL(url!)
    expect(parsed.searchParams.get("options")).toBe("-c search_path=sixchat_x")
    expect(parsed.searchParams.get("application_name")).toBe("a")
    expect(parsed.pathname).toBe("/test")
  })
  it("refuses schema names that would need quoting", () => {
    expect(withSearchPath("postgres://h/d", "x; DROP")).toBeUndefined()
    expect(withSearchPath("postgres://h/d", "Upper")).toBeUndefined()
  })
})
