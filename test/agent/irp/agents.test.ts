/**
 * Two User Agents wired to a real IRP server in-process (IrpAgent.layer: IrpConnection, IrpPresence,
 * IrpDirectory, SQLite stores, TCP on 127.0.0.1): alice finds bob through the IRP and delivers; bob
 * stops (deregistering) and starts again on another port; the messages alice wrote meanwhile are
 * delivered exactly once, pushed by the IRP Watch (the retry backoff is set to a minute, so nothing
 * else could deliver them within the test).
 */
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Context, Effect, Either, ExecutionStrategy, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { formatAddress, makeAddress } from "../../../src/domain/brands.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import * as IrpAgent from "../../../src/layers/agent/irp/IrpAgent.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import * as NodeCrypto from "../../../src/layers/crypto/NodeCrypto.js"
import * as IrpClientLive from "../../../src/layers/irp/client/IrpClientLive.js"
import { Agent, type AgentService } from "../../../src/services/Agent.js"
import {
  baseLayer,
  buildRegistry,
  type Enrolled,
  enrol,
  makeDomain,
  removeTempDirs,
  sqliteRegistry,
  startServer,
  tempDir
} from "../../irp/protocol/support.js"
import { eventually } from "../core/helpers.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

/** Agents check chains against the domain's root (built when used: `domain` is made in `beforeAll`). */
const env = Layer.mergeAll(
  baseLayer,
  Logger.minimumLogLevel(LogLevel.Error),
  Layer.suspend(() => Layer.orDie(CertVerifierLive.layer({ anchors: [domain.rootCertificate] })))
)

const startAgent = (who: Enrolled, irp: ReturnType<typeof makeAddress>, dir: string) =>
  Effect.gen(function* () {
    const layer = IrpAgent.layer({
      handle: who.handle,
      identity: Either.getOrThrow(makeLocalIdentity(NodeCrypto.suite, who.identity.pkcs8, who.identity.chain)),
      credentials: who.identity,
      deviceId: "test-device",
      irp: { address: irp, serverName: domain.config.serverName },
      listen: [makeAddress("127.0.0.1", 0)],
      downloadsDir: join(dir, "downloads"),
      connection: { reconnectBase: "50 millis", reconnectMax: "200 millis" }
    }).pipe(
      Layer.provide(AgentStoreLive.layer(join(dir, "agent.db"), { retry: { baseMs: 60_000, maxMs: 60_000 } })),
      Layer.provide(IrpClientLive.layer),
      Layer.provide(env)
    )
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const context = yield* Layer.buildWithScope(layer, scope)
    return { agent: Context.get(context, Agent), stop: Scope.close(scope, Exit.void) }
  })

const registered = (agent: AgentService) =>
  eventually(
    Effect.map(agent.status, (s) => (s.registered.length > 0 ? s : undefined)),
    "a registration"
  )

const delivered = (agent: AgentService, id: string) =>
  eventually(
    Effect.map(agent.history({}), (h) => {
      const state = h.find((m) => m.id === id && m.direction === "out")?.state
      return state === "delivered" || state === "read" ? state : undefined
    }),
    `${id} delivered`
  )

describe("two agents over a real IRP", () => {
  it.live(
    "find each other through the IRP; messages written while the peer was away arrive once, pushed by the Watch",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const registry = yield* buildRegistry(sqliteRegistry())
          const running = yield* startServer(domain, registry)
          const aliceId = yield* enrol(running, "alice")
          const bobId = yield* enrol(running, "bob")
          const dirs = { alice: tempDir(), bob: tempDir() }

          const alice = yield* startAgent(aliceId, running.address, dirs.alice)
          let bob = yield* startAgent(bobId, running.address, dirs.bob)
          yield* registered(alice.agent)
          const firstBinding = yield* registered(bob.agent)

          const hello = yield* alice.agent.send(bobId.handle, "hello bob")
          yield* delivered(alice.agent, hello.id)
          const [aliceSession] = (yield* alice.agent.status).sessions
          const [bobSession] = (yield* bob.agent.status).sessions
          expect(aliceSession?.sessionCode).toBe(bobSession?.sessionCode)
          expect(formatAddress(aliceSession!.remote)).toBe(formatAddress(firstBinding.registered[0]!))

          yield* bob.stop
          expect(yield* registry.lookup({ handle: bobId.handle, now: Date.now() })).toEqual([])
          const later = [
            yield* alice.agent.send(bobId.handle, "while you were away (1/2)"),
            yield* alice.agent.send(bobId.handle, "while you were away (2/2)")
          ]
          // The dial fails (no binding), so the next attempt is a minute away.
          yield* eventually(
            Effect.map(alice.agent.status, (s) => (s.sessions.length === 0 ? true : undefined)),
            "alice's session to end"
          )

          bob = yield* startAgent(bobId, running.address, dirs.bob)
          const secondBinding = yield* registered(bob.agent)
          expect(formatAddress(secondBinding.registered[0]!)).not.toBe(formatAddress(firstBinding.registered[0]!))
          for (const m of later) yield* delivered(alice.agent, m.id)
          const inbox = (yield* bob.agent.history({ peer: aliceId.handle })).filter((m) => m.direction === "in")
          expect(inbox.map((m) => m.body)).toEqual([
            "hello bob",
            "while you were away (1/2)",
            "while you were away (2/2)"
          ])
          yield* bob.stop
          yield* alice.stop
        })
      ).pipe(Effect.provide(env))
  )
})
