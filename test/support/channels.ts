/**
 * Builds E2E channel factories for tests: one per peer, each with its own provider, identity and limits.
 */
import { Effect, Either, Layer } from "effect"
import type { ProviderName } from "../../src/domain/crypto/primitives.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import { makeLocalIdentity } from "../../src/domain/handshake/identity.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import { type ChannelOptions, e2eCodec, make } from "../../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { cryptoSuite } from "../../src/services/Crypto.js"
import type { SecureChannelsService } from "../../src/services/SecureChannel.js"
import { Transport, type TransportService } from "../../src/services/Transport.js"
import type { TestIdentity } from "./identities.js"

export interface PeerSetup {
  readonly identity: TestIdentity | null
  readonly anchors: ReadonlyArray<Uint8Array>
  readonly provider?: ProviderName
  readonly options?: Partial<ChannelOptions>
  readonly allowAnonymousPeer?: boolean
  /** Deterministic entropy for reproducible runs. */
  readonly seed?: string
  /** Use this chain instead of the identity's own (e.g. to present someone else's certificate). */
  readonly chainOverride?: ReadonlyArray<Uint8Array>
  /** The transport `dial` uses (default: real TCP). */
  readonly transport?: TransportService
}

export const channelsFor = (setup: PeerSetup): Effect.Effect<SecureChannelsService<AppMessage, AppMessage>> =>
  Effect.gen(function* () {
    const crypto = yield* cryptoSuite
    const identity =
      setup.identity === null
        ? null
        : Either.getOrThrow(makeLocalIdentity(crypto, setup.identity.pkcs8, setup.identity.chain))
    const local = identity !== null && setup.chainOverride ? { ...identity, chain: setup.chainOverride } : identity
    return yield* make({
      codec: e2eCodec,
      identity: local,
      allowAnonymousPeer: setup.allowAnonymousPeer ?? false,
      ...(setup.options === undefined ? {} : { options: setup.options })
    })
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        CryptoLive.layerFor(setup.provider ?? "node"),
        setup.seed === undefined ? EntropyLive.layer : EntropyLive.seeded(setup.seed),
        Layer.orDie(CertVerifierLive.layer({ anchors: setup.anchors })),
        setup.transport === undefined ? TcpTransport.layer : Layer.succeed(Transport, setup.transport)
      )
    )
  )

/** A `<Message>` with `body` and a fixed id and time, for channel tests. */
export const testMessage = (body: string): AppMessage => ({
  _tag: "e2e.Message",
  id: "01JDQ3ZV8Y6W4R2T0N9M7K5H3G" as never,
  sent: "2026-11-26T12:00:00Z" as never,
  body
})
