/**
 * Agents of several domains for the federation tests: each a real `IrpAgent` (SQLite store in a temp
 * directory, TCP on 127.0.0.1, its own domain's root as the CertVerifier's anchor, as `sixchat agent`
 * builds it), whose IRP is the scripted federation of `./world.ts`.
 */
import { join } from "node:path"
import { Context, Effect, Either, ExecutionStrategy, Exit, Fiber, Layer, Logger, LogLevel, Scope, Stream } from "effect"
import { makeAddress } from "../../../src/domain/brands.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import * as IrpAgent from "../../../src/layers/agent/irp/IrpAgent.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as NodeCrypto from "../../../src/layers/crypto/NodeCrypto.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { Agent, type AgentEvent, type AgentService } from "../../../src/services/Agent.js"
import { DomainRoots, type DomainRootsService } from "../../../src/services/DomainRoots.js"
import type { TestIdentity } from "../../../src/testing/pki.js"
import { eventually } from "../core/helpers.js"
import type { World } from "./world.js"

export { eventually }

export const base = Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)

export interface FedAgent {
  readonly agent: AgentService
  readonly roots: DomainRootsService
  /** Every event the agent published since it started. */
  readonly events: Array<AgentEvent>
  readonly stop: Effect.Effect<void>
}

export const startAgent = (
  world: World,
  who: TestIdentity,
  ownRoot: Uint8Array,
  dir: string,
  options: { readonly strictKeys?: boolean } = {}
) =>
  Effect.gen(function* () {
    world.people.set(who.handle, who.chain)
    const layer = IrpAgent.layer({
      handle: who.handle,
      identity: Either.getOrThrow(makeLocalIdentity(NodeCrypto.suite, who.pkcs8, who.chain)),
      credentials: { pkcs8: who.pkcs8, chain: who.chain },
      deviceId: "test-device",
      irp: { address: makeAddress("127.0.0.1", 4604), serverName: "irp.test" },
      listen: [makeAddress("127.0.0.1", 0)],
      // A refused attempt is retried soon, so that a test sees the next one (never timed: polled).
      options: { strictKeys: options.strictKeys === true },
      domainRoots: { refreshInterval: "0 millis" },
      connection: { reconnectBase: "50 millis", reconnectMax: "200 millis" }
    }).pipe(
      Layer.provide(AgentStoreLive.layer(join(dir, "agent.db"), { retry: { baseMs: 50, maxMs: 200 } })),
      Layer.provide(world.layer),
      Layer.provide(Layer.orDie(CertVerifierLive.layer({ anchors: [ownRoot] }))),
      Layer.provide(base),
      Layer.provide(Logger.minimumLogLevel(LogLevel.None))
    )
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const context = yield* Layer.buildWithScope(layer, scope)
    const agent = Context.get(context, Agent)
    const events: Array<AgentEvent> = []
    const listening = yield* Effect.forkIn(
      Stream.runForEach(agent.events, (e) => Effect.sync(() => void events.push(e))),
      scope
    )
    yield* eventually(
      Effect.map(agent.status, (s) => (s.registered.length > 0 ? s : undefined)),
      `${who.handle} registered`
    )
    return {
      agent,
      roots: Context.get(context, DomainRoots),
      events,
      stop: Effect.zipRight(Fiber.interrupt(listening), Scope.close(scope, Exit.void))
    } satisfies FedAgent
  })

/** The message's state in the sender's history once it is `delivered` (or read). */
export const delivered = (agent: AgentService, id: string) =>
  eventually(
    Effect.map(agent.history({}), (h) => {
      const state = h.find((m) => m.id === id && m.direction === "out")?.state
      return state === "delivered" || state === "read" ? state : undefined
    }),
    `${id} delivered`
  )

/** The last error of the delivery attempts to `peer`, once one failed. */
export const failedAttempt = (agent: AgentService, peer: string) =>
  eventually(
    Effect.map(
      agent.outbox({ peer: peer as never }),
      (items) => items.find((i) => i.lastError !== null)?.lastError ?? undefined
    ),
    `a failed attempt to ${peer}`
  )
