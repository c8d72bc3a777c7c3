/**
 * The synchronous write path on SQLite (`SyncWrites`, issue 15): registrations commit through a connection
 * of their own with the client's durability, this process's own commits are not mistaken for another
 * process's, and a file locked elsewhere sends the batch down the effectful path, which waits.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Chunk, Clock, Context, Effect, Either, Exit, Fiber, Layer, Queue } from "effect"
import { type Handle, makeAddress } from "../../../src/domain/brands.js"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import { FEED_CAPACITY } from "../../../src/layers/irp/registry/changes.js"
import { compiledOnce } from "../../../src/layers/irp/registry/compiled.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as SqliteLive from "../../../src/layers/sql/SqliteLive.js"
import { SyncWrites } from "../../../src/layers/sql/SyncWrites.js"
import { IrpRegistry, type IrpRegistryService } from "../../../src/services/IrpRegistry.js"
import { freshHandle } from "./suite.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-syncwrites-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const registerDevice = (registry: IrpRegistryService, handle: Handle, device: string, seq: bigint, now: number) =>
  registry.register({
    handle,
    deviceId: DeviceId.make(device),
    addresses: [makeAddress("192.0.2.1", 4605)],
    ttlSeconds: 60,
    seq: Seq.make(seq),
    observed: undefined,
    now
  })

const open = (file: string) =>
  Effect.map(Layer.build(SqlRegistry.layer.pipe(Layer.provideMerge(SqliteLive.layer(file)))), (context) => ({
    registry: Context.get(context, IrpRegistry),
    writes: Context.unsafeGet(context, SyncWrites),
    sql: Context.get(context, SqlClient.SqlClient)
  }))

it.live("registrations commit through SyncWrites, durably, and are not heard as another process's writes", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const { registry, writes, sql } = yield* open(join(dir, "own.db"))
    const settings = writes.transaction((db) => [
      db.all("PRAGMA synchronous", [])[0]?.synchronous,
      db.all("PRAGMA foreign_keys", [])[0]?.foreign_keys,
      db.all("PRAGMA journal_mode", [])[0]?.journal_mode
    ])
    // synchronous 2 = FULL, as the effectful client's.
    expect(settings).toEqual(Either.right([2, 1, "wal"]))

    let lost = 0
    const heard: Array<string> = []
    yield* registry.onChange({ changed: (c) => heard.push(c.handle), lost: () => lost++ })
    const clientVersion = sql<{ readonly data_version: number }>`PRAGMA data_version`
    const before = { client: (yield* clientVersion)[0]?.data_version, writer: writes.dataVersion() }
    const handle = freshHandle("own")
    const now = yield* Clock.currentTimeMillis
    const answers = yield* Effect.all(
      [1n, 2n, 3n].map((n) => registerDevice(registry, handle, `d${n}`, n, now)),
      { concurrency: "unbounded" }
    )
    expect(answers.map((bindings) => bindings.length).sort()).toEqual([1, 2, 3])
    // The commits came through the writer's connection: the client saw another connection commit, the
    // writer saw none.
    expect((yield* clientVersion)[0]?.data_version).not.toBe(before.client)
    expect(writes.dataVersion()).toBe(before.writer)
    yield* Effect.sleep("600 millis")
    expect([lost, heard.filter((h) => h === handle).length]).toEqual([0, 3])
    expect((yield* registry.lookup({ handle, now })).map((b) => [b.deviceId, b.seq])).toEqual([
      ["d1", 1n],
      ["d2", 2n],
      ["d3", 3n]
    ])
    // A refusal inside a batch answers its own registration only.
    const stale = yield* Effect.either(registerDevice(registry, handle, "d1", 1n, now))
    expect(Either.isLeft(stale) && stale.left.reason).toBe("StaleSequence")
  }).pipe(Effect.scoped)
)

it.live(
  "a batch committed in one synchronous step tells listeners and subscribers at once, and a subscriber far behind loses the oldest",
  () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { registry } = yield* open(join(dir, "feed.db"))
      const told: Array<string> = []
      yield* registry.onChange({ changed: (c) => told.push(c.handle), lost: () => {} })
      const taker = yield* registry.subscribe
      const idle = yield* registry.subscribe
      const now = yield* Clock.currentTimeMillis
      // One registration: the listener has been told by the time it is answered, the subscriber can take it.
      const first = freshHandle("feed")
      yield* registerDevice(registry, first, "d", 1n, now)
      expect(told).toEqual([first])
      expect(yield* Queue.take(taker)).toEqual({ handle: first, kind: "bindings" })
      // More changes than the feed keeps for a subscriber that takes none: it keeps the newest, in order.
      const handles = Array.from({ length: FEED_CAPACITY + 3 }, () => freshHandle("flood"))
      yield* Effect.forEach(handles, (h) => registerDevice(registry, h, "d", 1n, now), {
        concurrency: "unbounded",
        discard: true
      })
      const kept = Chunk.toReadonlyArray(yield* Queue.takeAll(idle)).map((c) => c.handle)
      const all = [first, ...handles]
      expect(kept).toEqual(all.slice(all.length - FEED_CAPACITY))
      expect(told.length).toBe(all.length)
    }).pipe(Effect.scoped)
)

it.live("a registration interrupted while it waits for its batch ends at once, and the registry goes on", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const { registry } = yield* open(join(dir, "interrupted.db"))
    const handle = freshHandle("interrupted")
    const now = yield* Clock.currentTimeMillis
    const waiting = yield* Effect.fork(registerDevice(registry, handle, "d", 1n, now))
    const exit = yield* Fiber.interrupt(waiting)
    expect(Exit.isInterrupted(exit)).toBe(true)
    // Whether or not the interrupted registration was written, a later one is answered.
    const bindings = yield* registerDevice(registry, handle, "d", 2n, now)
    expect(bindings.map((b) => [b.deviceId, b.seq])).toEqual([["d", 2n]])
  }).pipe(Effect.scoped)
)

/** A process holding the file's write lock until it has waited `ms` after saying `locked`. */
const lockHolder = (file: string, ms: number) =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof spawn>>((resume) => {
      const script = `const D=require("better-sqlite3");const db=new D(process.argv[1]);db.exec("BEGIN IMMEDIATE");
        db.prepare("UPDATE irp_bindings SET updated_at = updated_at").run();process.stdout.write("locked\\n");
        setTimeout(()=>{db.exec("COMMIT");db.close();process.stdout.write("released\\n")},${ms})`
      const child = spawn(process.execPath, ["-e", script, file], {
        cwd: process.cwd(),
        stdio: ["ignore", "pipe", "inherit"]
      })
      child.stdout?.once("data", () => resume(Effect.succeed(child)))
      child.once("error", (e) => resume(Effect.die(e)))
    }),
    (child) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill()
      })
  )

it.live("a file locked by another process: SyncWrites says Busy, and the registration waits for the lock", () =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const file = join(dir, "locked.db")
    const { registry, writes } = yield* open(file)
    const handle = freshHandle("locked")
    const now = yield* Clock.currentTimeMillis
    yield* registerDevice(registry, handle, "d", 1n, now)
    yield* lockHolder(file, 300)
    const attempt = writes.transaction((db) => db.all("UPDATE irp_bindings SET updated_at = updated_at", []))
    expect(Either.isLeft(attempt) && attempt.left._tag).toBe("Busy")
    // The batch is Busy on the writer's connection, then waits on the client's (busy timeout 5 s).
    const bindings = yield* registerDevice(registry, handle, "d", 2n, now)
    expect(bindings.map((b) => b.seq)).toEqual([2n])
  }).pipe(Effect.scoped)
)

it.scoped("compiledOnce binds each argument where the statement puts it, or declines", () =>
  Effect.gen(function* () {
    const sql = Context.get(yield* Layer.build(SqliteLive.layer(":memory:")), SqlClient.SqlClient)
    const statement = (handle: string, at: number, seq: bigint) =>
      sql`SELECT ${at} AS a, ${"fixed"} AS f, CAST(${handle} AS TEXT) AS h, ${seq} AS s, ${at} AS b`
    const compiled = compiledOnce(statement, ["text", "number", "bigint"])
    expect(compiled?.text).toBe(statement("x", 1, 2n).compile()[0])
    expect(compiled?.params("alice", 7, 9n)).toEqual([7, "fixed", "alice", 9n, 7])
    // An argument the statement changes on its way in cannot be bound by position: declined.
    const changed = (handle: string, at: number) => sql`SELECT ${handle.toUpperCase()} AS h, ${at} AS a`
    expect(compiledOnce(changed, ["text", "number"])).toBeUndefined()
    // Each argument once, in order: the arguments are the parameters.
    const plain = (handle: string, at: number) => sql`SELECT CAST(${handle} AS TEXT) AS h WHERE ${at} > 0`
    expect(compiledOnce(plain, ["text", "number"])?.params("bob", 3)).toEqual(["bob", 3])
  })
)
