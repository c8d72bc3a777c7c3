/**
 * One User Agent for `bench:agent`, built the way `sixchat agent` builds it (AgentLive over the
 * SQLite store, TCP, node:crypto, the file transfers) but without an IRP: a static Directory that
 * knows the peers' loopback addresses and a Presence that registers nothing.
 */
import { join } from "node:path"
import { Context, Effect, Either, Layer, type Scope, Stream } from "effect"
import { tuneAgentHeap } from "../src/cli/agentHeap.js"
import { type Address, type Handle, makeAddress } from "../src/domain/brands.js"
import { makeLocalIdentity } from "../src/domain/handshake/identity.js"
import * as AgentFiles from "../src/layers/agent/AgentFiles.js"
import * as AgentLive from "../src/layers/agent/AgentLive.js"
import { AgentListeners } from "../src/layers/agent/core/Listeners.js"
import * as AgentStoreLive from "../src/layers/agent/store/AgentStoreLive.js"
import * as CertVerifierLive from "../src/layers/CertVerifierLive.js"
import * as NodeCrypto from "../src/layers/crypto/NodeCrypto.js"
import * as EntropyLive from "../src/layers/EntropyLive.js"
import * as TcpTransport from "../src/layers/transport/TcpTransport.js"
import { Agent, type AgentService } from "../src/services/Agent.js"
import { Directory, DirectoryError, type DirectoryService } from "../src/services/Directory.js"
import { Presence, type PresenceService } from "../src/services/Presence.js"
import type { BenchIdentity } from "./pki.js"

/** Where each known peer listens; anyone else is "not registered". */
export const staticDirectory = (peers: ReadonlyMap<Handle, ReadonlyArray<Address>>): DirectoryService => ({
  lookup: (handle) => {
    const addresses = peers.get(handle)
    return addresses === undefined
      ? Effect.fail(new DirectoryError({ reason: "NotFound", message: `${handle} is not known to the bench.` }))
      : Effect.succeed({ handle, addresses })
  },
  watch: () => Stream.never
})

/** Registers nothing: the bench's peers know each other's addresses from the start. */
const noPresence: PresenceService = { current: Effect.succeed([]), refresh: Effect.void, events: Stream.never }

export interface BenchAgentSetup {
  readonly identity: BenchIdentity
  readonly anchors: ReadonlyArray<Uint8Array>
  /** The identity home: `agent.db` and `downloads/` go here. */
  readonly home: string
  readonly peers: ReadonlyMap<Handle, ReadonlyArray<Address>>
}

export interface BenchAgent {
  readonly handle: Handle
  readonly agent: AgentService
  /** Where it listens (127.0.0.1, port chosen by the OS). */
  readonly address: Address
  readonly downloads: string
}

/** Starts an agent for the enclosing scope (closing it closes sessions with `<Close/>`). */
export const startBenchAgent = (setup: BenchAgentSetup): Effect.Effect<BenchAgent, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    // As `sixchat agent` does for its process (src/cli/agentHeap.ts); the node:tls anchor shares it.
    tuneAgentHeap()
    const handle = setup.identity.handle as Handle
    const identity = Either.getOrThrow(makeLocalIdentity(NodeCrypto.suite, setup.identity.pkcs8, setup.identity.chain))
    const downloads = join(setup.home, "downloads")
    const base = Layer.mergeAll(
      NodeCrypto.layer,
      EntropyLive.layer,
      TcpTransport.layer,
      CertVerifierLive.layer({ anchors: setup.anchors }),
      Layer.succeed(Directory, staticDirectory(setup.peers)),
      AgentStoreLive.layer(join(setup.home, AgentStoreLive.DATABASE_FILE))
    )
    const layer = AgentLive.layerWith(
      {
        handle,
        identity,
        deviceId: "bench",
        home: setup.home,
        listen: [makeAddress("127.0.0.1", 0)],
        files: AgentFiles.feature({ downloadsDir: downloads, policy: { _tag: "Always" } })
      },
      Layer.succeed(Presence, noPresence)
    ).pipe(Layer.provideMerge(base))
    const context = yield* Layer.build(layer)
    const listeners = Context.get(context, AgentListeners)
    return {
      handle,
      agent: Context.get(context, Agent),
      address: listeners.addresses[0]!,
      downloads
    }
  })
