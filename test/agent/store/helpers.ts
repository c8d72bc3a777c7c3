/** Shared fixtures for the agent store tests: real SQLite files in temporary directories. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Clock, Context, Effect, Layer, Queue, type Scope } from "effect"
import type { StoreEvent } from "../../../src/domain/agent/events.js"
import { Fingerprint, Handle, type Id } from "../../../src/domain/brands.js"
import { ulidFrom } from "../../../src/domain/ulid.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import { AgentStore, type AgentStoreService } from "../../../src/services/AgentStore.js"

/** A fresh directory, removed when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-agent-store-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Opens the store on `file` for the enclosing scope (closing the scope closes the database). */
export const openStore = (
  file: string,
  options?: AgentStoreLive.AgentStoreOptions
): Effect.Effect<AgentStoreService, unknown, Scope.Scope> =>
  Effect.map(Layer.build(AgentStoreLive.layer(file, options)), (context) => Context.get(context, AgentStore))

/** A store on a new file in a new directory; returns the store and the file. */
export const freshStore = (options?: AgentStoreLive.AgentStoreOptions) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const file = join(dir, AgentStoreLive.DATABASE_FILE)
    const store = yield* openStore(file, options)
    return { store, file, dir }
  })

export const alice = Handle.make("alice@example.org")
export const bob = Handle.make("bob@example.org")
export const carol = Handle.make("carol@example.net")

export const fingerprint = (n: number): Fingerprint => Fingerprint.make(n.toString(16).padStart(64, "0"))

let idCounter = 0
/** A ULID no other call returns (time part from `ms`). */
export const newId = (ms = 1_700_000_000_000): Id => {
  const random = new Uint8Array(10)
  new DataView(random.buffer).setUint32(6, ++idCounter)
  return ulidFrom(ms, random)
}

export const now = Clock.currentTimeMillis

/** Every event already in the queue, without waiting. */
export const drain = (queue: Queue.Dequeue<StoreEvent>) => Effect.map(Queue.takeAll(queue), (c) => [...c])
