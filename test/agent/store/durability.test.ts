/**
 * What survives: closing and reopening the store (a clean restart), and a process killed with
 * SIGKILL right after `enqueue` / `receive` returned (a crash). The crash is real: a child process
 * runs the real layer (through vite-node, which runs the TypeScript sources as vitest does) and is
 * killed mid-stream; the parent then opens the same file. This shows durability against a process
 * crash; durability against power loss rests on `synchronous = FULL`, checked here as a setting
 * (pulling the plug is not something a unit test can do).
 */
import { spawn } from "node:child_process"
import { statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Ulid } from "../../../src/domain/brands.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import { sqliteLayer } from "../../../src/layers/agent/store/database.js"
import { AgentStore } from "../../../src/services/AgentStore.js"
import { bob, newId, openStore, tempDir } from "./helpers.js"

const VITE_NODE = fileURLToPath(new URL("../../../node_modules/vite-node/vite-node.mjs", import.meta.url))
const CHILD = fileURLToPath(new URL("./crashChild.ts", import.meta.url))

/**
 * Runs the child, kills it with SIGKILL once it has reported `killAfter` stored ids, and returns
 * every id it reported (the kill lands while it keeps writing).
 */
const runAndKill = (mode: "enqueue" | "receive", file: string, killAfter: number) =>
  Effect.promise(
    () =>
      new Promise<{ ids: ReadonlyArray<string>; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [VITE_NODE, CHILD, mode, file], { stdio: "pipe" })
        let out = ""
        let stderr = ""
        let killed = false
        const guard = setTimeout(() => child.kill("SIGKILL"), 20_000)
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString("utf8")
          if (!killed && out.split("\n").length > killAfter) {
            killed = true
            child.kill("SIGKILL")
          }
        })
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString("utf8")
        })
        child.on("close", (_code, signal) => {
          clearTimeout(guard)
          // A line cut by the kill is not a reported id.
          const ids = out
            .split("\n")
            .filter((line) => /^stored \S+$/.test(line))
            .map((line) => line.slice(7))
          resolve({ ids, signal, stderr })
        })
      })
  )

describe("durability", () => {
  it.scoped("the outbox and history survive closing and reopening the database", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, AgentStoreLive.DATABASE_FILE)
      const [a, b, c] = [newId(), newId(), newId()]
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* openStore(file)
          for (const id of [a, b, c]) yield* store.enqueue({ id, peer: bob, body: `body ${id}`, now: 1 })
          yield* store.markSent({ id: a, now: 2 })
          yield* store.markDelivered({ peer: bob, id: b, now: 3 })
          yield* store.receive({ id: newId(), peer: bob, body: "reply", createdAt: 2, now: 4 })
        })
      )
      const store = yield* openStore(file)
      expect((yield* store.outbox()).map((m) => [m.id, m.state])).toEqual([
        [a, "sent"],
        [c, "queued"]
      ])
      expect((yield* store.history()).map((m) => m.state)).toEqual(["sent", "delivered", "queued", "received"])
    })
  )

  it.scoped("every connection runs WAL with synchronous = FULL, also after a relaxed write and after reopening", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, AgentStoreLive.DATABASE_FILE)
      const settings = (sql: SqlClient.SqlClient) =>
        Effect.all([
          sql<{ readonly journal_mode: string }>`PRAGMA journal_mode`,
          sql<{ readonly synchronous: number }>`PRAGMA synchronous`
        ]).pipe(Effect.map(([[j], [s]]) => [j?.journal_mode, s?.synchronous]))
      for (let round = 0; round < 2; round++) {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(
              Layer.scoped(AgentStore, AgentStoreLive.make()).pipe(Layer.provideMerge(sqliteLayer(file)))
            )
            const sql = Context.get(context, SqlClient.SqlClient)
            const store = Context.get(context, AgentStore)
            expect(yield* settings(sql)).toEqual(["wal", 2])
            const id = newId()
            yield* store.enqueue({ id, peer: bob, body: "x", now: 1 })
            yield* store.markSent({ id, now: 2 })
            expect(yield* settings(sql)).toEqual(["wal", 2])
          })
        )
      }
    })
  )

  it.scoped("the database is created 0600 and an existing one is tightened to 0600", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, "home", AgentStoreLive.DATABASE_FILE)
      const store = yield* openStore(file)
      yield* store.enqueue({ id: newId(), peer: bob, body: "x", now: 1 })
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(statSync(f).mode & 0o777).toBe(0o600)
      expect(statSync(join(dir, "home")).mode & 0o777).toBe(0o700)

      const loose = join(dir, "loose.db")
      writeFileSync(loose, "", { mode: 0o644 })
      yield* openStore(loose)
      expect(statSync(loose).mode & 0o777).toBe(0o600)
    })
  )

  it.scoped("kill -9 right after enqueue returned: every reported message is in the outbox, once, in order", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, AgentStoreLive.DATABASE_FILE)
      const run = yield* runAndKill("enqueue", file, 200)
      expect(run.signal, run.stderr).toBe("SIGKILL")
      expect(run.ids.length).toBeGreaterThanOrEqual(200)
      const store = yield* openStore(file)
      const outbox = yield* store.outbox({ limit: 10_000 })
      const stored = outbox.map((m) => m.id as string)
      // Everything reported is there, in order; at most the one call in flight at the kill is extra.
      expect(stored.slice(0, run.ids.length)).toEqual(run.ids)
      expect(stored.length - run.ids.length).toBeLessThanOrEqual(1)
      expect(new Set(stored).size).toBe(stored.length)
      expect(outbox.every((m) => m.state === "queued" || m.state === "sent")).toBe(true)
      // And the store goes on working on the crashed file.
      expect(yield* store.markDelivered({ peer: bob, id: Ulid.make(run.ids[0]!), now: 1 })).toBe("changed")
    })
  )

  it.scoped("kill -9 right after receive returned: every acknowledged message is stored and deduplicated", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, AgentStoreLive.DATABASE_FILE)
      const run = yield* runAndKill("receive", file, 200)
      expect(run.signal, run.stderr).toBe("SIGKILL")
      const store = yield* openStore(file)
      const history = yield* store.history({ peer: bob, limit: 1000 })
      const ids = history.map((m) => m.id as string)
      expect(ids.slice(0, run.ids.length)).toEqual(run.ids)
      expect(new Set(ids).size).toBe(ids.length)
      // The sender resends what it had no Ack for: the receiver recognises it.
      for (const id of run.ids.slice(-3)) {
        expect(yield* store.receive({ id: Ulid.make(id), peer: bob, body: "again", createdAt: 1, now: 2 })).toBe(
          "duplicate"
        )
      }
    })
  )
})
