/**
 * Builds User Agents for tests: each in a scope of its own (so a test can stop and restart one),
 * over real TCP or a simulated network, with a MemoryDirectory for lookups and presence.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Context, Effect, Either, ExecutionStrategy, Exit, Layer, Queue, Scope, Stream, TestClock } from "effect"
import { type Address, Handle } from "../../../src/domain/brands.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import type { LocalIdentity } from "../../../src/domain/handshake/parameters.js"
import * as AgentLive from "../../../src/layers/agent/AgentLive.js"
import type { AgentListeners } from "../../../src/layers/agent/core/Listeners.js"
import type { AgentOptions } from "../../../src/layers/agent/core/options.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import * as NodeCrypto from "../../../src/layers/crypto/NodeCrypto.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import { Agent, type AgentEvent, type AgentService } from "../../../src/services/Agent.js"
import { AgentStore, type AgentStoreService } from "../../../src/services/AgentStore.js"
import { CertVerifier, type CertVerifierService } from "../../../src/services/CertVerifier.js"
import { Directory } from "../../../src/services/Directory.js"
import { Presence, type PresenceService } from "../../../src/services/Presence.js"
import { Transport, type TransportService } from "../../../src/services/Transport.js"
import type { TestIdentity } from "../../support/identities.js"
import type { MemoryDirectory } from "../../support/MemoryDirectory.js"

/** What an agent needs of a test identity (openssl-made ones, and `src/testing/pki.ts` ones). */
export type AgentIdentity = Pick<TestIdentity, "handle" | "pkcs8" | "chain">

export const localIdentity = (identity: AgentIdentity): LocalIdentity =>
  Either.getOrThrow(makeLocalIdentity(NodeCrypto.suite, identity.pkcs8, identity.chain))

/** A fresh directory, removed when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-agent-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The agent store on a SQLite file (what a real agent uses). */
export const fileStore = (file: string, options?: AgentStoreLive.AgentStoreOptions) =>
  AgentStoreLive.layer(file, options)

/** The agent store on an in-memory SQLite database (simulations: no fsync, gone with its scope). */
export const memoryStore = (options?: AgentStoreLive.AgentStoreOptions): Layer.Layer<AgentStore, unknown> =>
  Layer.scoped(AgentStore, AgentStoreLive.make(options)).pipe(
    Layer.provide(SqliteClient.layer({ filename: ":memory:" }))
  )

export interface AgentSetup {
  readonly identity: AgentIdentity
  readonly anchors: ReadonlyArray<Uint8Array>
  readonly directory: MemoryDirectory
  readonly transport: TransportService
  readonly store: Layer.Layer<AgentStore, unknown>
  readonly listen: ReadonlyArray<Address>
  readonly options?: Partial<AgentOptions>
  /** Deterministic entropy (simulations). */
  readonly seed?: string
  /** A file transfer feature (or a stand-in). */
  readonly files?: AgentLive.AgentConfig["files"]
  /** Default: the listeners' addresses, wildcards as loopback. */
  readonly presence?: (handle: Handle) => Layer.Layer<Presence, never, AgentListeners>
  /**
   * Wraps the CertVerifier that trusts `anchors` (with the agent's own store at hand): e.g. the
   * federation's verifier, which picks the anchor by the peer's domain (PROTOCOL.md §22.3.2).
   */
  readonly verifier?: (own: CertVerifierService) => Effect.Effect<CertVerifierService, never, AgentStore>
}

export interface RunningAgent {
  readonly handle: Handle
  readonly agent: AgentService
  readonly store: AgentStoreService
  readonly presence: PresenceService
  readonly stop: Effect.Effect<void>
}

/** Starts an agent in a scope of its own (also closed with the caller's scope). */
export const startAgent = (setup: AgentSetup): Effect.Effect<RunningAgent, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const handle = Handle.make(setup.identity.handle)
    const anchored = Layer.orDie(CertVerifierLive.layer({ anchors: setup.anchors }))
    const wrap = setup.verifier
    const verifier =
      wrap === undefined
        ? Layer.merge(anchored, setup.store)
        : Layer.effect(CertVerifier, Effect.flatMap(CertVerifier, wrap)).pipe(
            Layer.provide(anchored),
            Layer.provideMerge(setup.store)
          )
    const base = Layer.mergeAll(
      NodeCrypto.layer,
      setup.seed === undefined ? EntropyLive.layer : EntropyLive.seeded(setup.seed),
      Layer.succeed(Transport, setup.transport),
      Layer.succeed(Directory, setup.directory.directory),
      verifier
    )
    const presence = setup.presence?.(handle) ?? setup.directory.presenceLayer(handle, "device-1")
    const layer = AgentLive.layerWith(
      {
        handle,
        identity: localIdentity(setup.identity),
        deviceId: "device-1",
        listen: setup.listen,
        ...(setup.options === undefined ? {} : { options: setup.options }),
        ...(setup.files === undefined ? {} : { files: setup.files })
      },
      presence
    ).pipe(Layer.provideMerge(base))
    const outer = yield* Effect.scope
    const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    const context = yield* Layer.buildWithScope(layer, scope)
    return {
      handle,
      agent: Context.get(context, Agent),
      store: Context.get(context, AgentStore),
      presence: Context.get(context, Presence),
      stop: Scope.close(scope, Exit.void)
    }
  })

/** Polls `check` until it returns a value (at most `tries` times, `every` apart). */
export const eventually = <A, E, R>(
  check: Effect.Effect<A | undefined, E, R>,
  what: string,
  { tries = 400, every = "20 millis" }: { tries?: number; every?: string } = {}
): Effect.Effect<A, E | Error, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep(every as "20 millis")
    }
    return yield* Effect.fail(new Error(`gave up waiting for ${what}`))
  })

/** Collects an agent's events from now on (until the scope closes). */
export const recordEvents = (agent: AgentService): Effect.Effect<Queue.Dequeue<AgentEvent>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<AgentEvent>()
    yield* Effect.forkScoped(Stream.runForEach(agent.events, (e) => Queue.offer(queue, e)))
    // Let the subscription start before anything happens (no sleep: this also runs under the TestClock).
    for (let i = 0; i < 50; i++) yield* Effect.yieldNow()
    return queue
  })

/**
 * Moves the TestClock on in `step`s until `check` returns a value (at most `maxSteps` steps): the
 * simulated counterpart of `eventually`.
 */
export const advanceUntil = <A, E, R>(
  check: Effect.Effect<A | undefined, E, R>,
  what: string,
  { step = "10 millis", maxSteps = 3000 }: { step?: string; maxSteps?: number } = {}
): Effect.Effect<A, E | Error, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < maxSteps; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* TestClock.adjust(step as "10 millis")
    }
    return yield* Effect.fail(new Error(`gave up waiting for ${what} (simulated)`))
  })
