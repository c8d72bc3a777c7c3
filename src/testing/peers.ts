/**
 * Peers on the simulated network, for deterministic tests of two or N User Agents' channels:
 *
 *     it.layer(Testing.world({ latency: "20 millis", seed: "two-peers" }))("alice and bob", (it) => {
 *       it.effect("talk", () => Effect.gen(function* () {
 *         const pki = yield* TestPki.make()
 *         const alice = yield* Testing.peer(pki, "alice@example.org", "2001:db8::a")
 *         const bob = yield* Testing.peer(pki, "bob@example.org", "2001:db8::b")
 *         ...
 *
 * `world` is the shared ground: the `Network` (SimNetwork: latency, jitter, partitions, dropped
 * connections, all on the Effect `Clock`, so `TestClock.adjust` moves time), seeded `Entropy` (same keys,
 * same nonces, same trace on every run) and the node:crypto ports. A peer is a node of the network with
 * its own address(es), a certificate from the test PKI and the E2E `SecureChannels` over its node's
 * transport, checking peers with a verifier that trusts the PKI's root.
 */
import { Effect, Either, Layer, type Scope } from "effect"
import type { Address, Handle } from "../domain/brands.js"
import type { AppMessage } from "../domain/e2e/messages.js"
import { makeLocalIdentity } from "../domain/handshake/identity.js"
import type { LocalIdentity } from "../domain/handshake/parameters.js"
import type { CaError } from "../domain/pki/errors.js"
import { type ChannelOptions, e2eCodec, make as makeChannels } from "../layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../layers/crypto/CryptoLive.js"
import * as EntropyLive from "../layers/EntropyLive.js"
import { cryptoSuite } from "../services/Crypto.js"
import type { Entropy } from "../services/Entropy.js"
import type { SecureChannel, SecureChannelsService } from "../services/SecureChannel.js"
import { Transport, type TransportService } from "../services/Transport.js"
import type { TestIdentity, TestPki } from "./pki.js"
import { make as makeNetwork, Network, type SimOptions } from "./SimNetwork.js"

export interface WorldOptions extends Omit<SimOptions, "seed"> {
  /** Seeds the Entropy (keys, nonces, serials) and, hashed, the network's jitter (default "sixchat"). */
  readonly seed?: string | undefined
}

const jitterSeed = (seed: string): number => {
  let h = 0
  for (let i = 0; i < seed.length; i++) h = (Math.imul(h, 31) + seed.charCodeAt(i)) | 0
  return h >>> 0
}

/** The simulated network, seeded Entropy and node:crypto: what `peer` and `TestPki.make` need. */
export const world = (options: WorldOptions = {}): Layer.Layer<Network | Entropy | CryptoLive.CryptoPorts> => {
  const seed = options.seed ?? "sixchat"
  const { seed: _, ...sim } = options
  return Layer.mergeAll(
    Layer.scoped(Network, makeNetwork({ ...sim, seed: jitterSeed(seed) })),
    EntropyLive.seeded(seed),
    CryptoLive.layerNode
  )
}

export interface TestPeer {
  readonly handle: Handle
  readonly identity: LocalIdentity
  /** Its key and chain (DER), e.g. for an IRP client. */
  readonly credentials: TestIdentity
  /** Its node's transport on the simulated network (listen, dial). */
  readonly transport: TransportService
  /** E2E channels: `dial` as initiator, `accept` a connection as responder. */
  readonly channels: SecureChannelsService<AppMessage, AppMessage>
}

export interface PeerOptions {
  /** Handshake, idle and write timeouts, rekey interval (PROTOCOL.md §11). */
  readonly channel?: Partial<ChannelOptions> | undefined
}

/** A User Agent's channel end on the node owning `hosts`, with a fresh certificate for `handle`. */
export const peer = (
  pki: TestPki,
  handle: string,
  hosts: string | ReadonlyArray<string>,
  options: PeerOptions = {}
): Effect.Effect<TestPeer, CaError, Network | Entropy | CryptoLive.CryptoPorts> =>
  Effect.gen(function* () {
    const credentials = yield* pki.identity(handle)
    const crypto = yield* cryptoSuite
    const identity = makeLocalIdentity(crypto, credentials.pkcs8, credentials.chain)
    if (Either.isLeft(identity)) return yield* Effect.dieMessage(`test identity unusable: ${identity.left}`)
    const transport = (yield* Network).transportFor(hosts)
    const channels = yield* makeChannels({
      codec: e2eCodec,
      identity: identity.right,
      ...(options.channel === undefined ? {} : { options: options.channel })
    }).pipe(Effect.provideService(Transport, transport), Effect.provide(pki.verifier))
    return { handle: credentials.handle, identity: identity.right, credentials, transport, channels }
  })

/**
 * `to` listens at `address` and accepts one channel while `from` dials it: both ends of one session,
 * once both handshakes are done (advance a `TestClock` meanwhile when the network has latency).
 */
export const connect = (
  from: TestPeer,
  to: TestPeer,
  address: Address
): Effect.Effect<
  {
    readonly initiator: SecureChannel<AppMessage, AppMessage>
    readonly responder: SecureChannel<AppMessage, AppMessage>
  },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const listener = yield* to.transport.listen(address)
    const [initiator, responder] = yield* Effect.all(
      [
        from.channels.dial(listener.address, { _tag: "Handle", handle: to.handle }),
        Effect.flatMap(listener.accept, (connection) => to.channels.accept(connection))
      ],
      { concurrency: 2 }
    )
    return { initiator, responder }
  })
