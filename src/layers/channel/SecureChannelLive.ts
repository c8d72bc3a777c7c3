/**
 * The SecureChannels factory: handshake + established channel over any Transport.
 * `make(config)` builds one for a protocol (its codec, our identity, what peers may be);
 * `layer(config)` provides the E2E one as the `SecureChannels` service.
 */
import { Duration, Effect, Layer, Scope } from "effect"
import { formatAddress } from "../../domain/brands.js"
import type { MessageCodec } from "../../domain/channel/codec.js"
import { HANDSHAKE_FRAME_LIMIT } from "../../domain/channel/framing.js"
import { e2eCodec } from "../../domain/e2e/codec.js"
import type { LocalIdentity } from "../../domain/handshake/parameters.js"
import { CertVerifier } from "../../services/CertVerifier.js"
import { cryptoSuite } from "../../services/Crypto.js"
import { Entropy } from "../../services/Entropy.js"
import {
  ChannelError,
  type Expectation,
  type SecureChannel,
  SecureChannels,
  type SecureChannelsService
} from "../../services/SecureChannel.js"
import { type Connection, Transport } from "../../services/Transport.js"
import { makeChannel } from "./Channel.js"
import { FrameReader, lingerClose, sendAlert } from "./FrameIo.js"
import { type HandshakeResult, runInitiator, runResponder } from "./handshakeDriver.js"
import { Watchdog } from "./Watchdog.js"

export interface ChannelOptions {
  /** Whole handshake, from connect to established (default 10 s). */
  readonly handshakeTimeout: Duration.DurationInput
  /** Longest wait for the next record once established (default 5 minutes; keep-alives run well inside it). */
  readonly idleTimeout: Duration.DurationInput
  /** Longest a send may wait for the peer to take our bytes (back-pressure) before the channel fails (default 60 s). */
  readonly writeTimeout: Duration.DurationInput
  /** Longest a TCP connect may take before `dial` gives up (default 10 s). */
  readonly connectTimeout: Duration.DurationInput
  /**
   * Records under one key before a KeyUpdate. Default 2^22: RFC 8446 section 5.5 allows ~2^24.5 records of
   * 2^14 bytes under one AES-GCM key; ours carry up to 2^16 bytes (4x the blocks), so 2^22 keeps TLS's
   * safety margin. Tests use tiny values.
   */
  readonly rekeyAfterRecords: number
}

export const defaultChannelOptions: ChannelOptions = {
  handshakeTimeout: Duration.seconds(10),
  idleTimeout: Duration.minutes(5),
  writeTimeout: Duration.seconds(60),
  connectTimeout: Duration.seconds(10),
  rekeyAfterRecords: 2 ** 22
}

export interface ChannelConfig<In, Out> {
  readonly codec: MessageCodec<In, Out>
  /** Our certificate and key; `null` for an anonymous initiator (IRP enrolment). */
  readonly identity: LocalIdentity | null
  /** When given, read at each handshake instead of `identity` (a certificate renewed while running, 17.4.8). */
  readonly identityNow?: (() => LocalIdentity) | undefined
  /** Accept initiators without a certificate (the IRP server). */
  readonly allowAnonymousPeer?: boolean
  /** A federating IRP's public chain, shown to an initiator that asks `<Trust>public</Trust>` (PROTOCOL.md §22.2.3). */
  readonly publicIdentity?: LocalIdentity | undefined
  /** Ask every responder for its public chain (an IRP dialing another domain's IRP, §22.2.3). */
  readonly requestPublicChain?: boolean | undefined
  readonly options?: Partial<ChannelOptions>
}

/** The User Agent protocol (moved to the domain; re-exported for existing importers). */
export { e2eCodec } from "../../domain/e2e/codec.js"

export const make = <In, Out>(config: ChannelConfig<In, Out>) =>
  Effect.gen(function* () {
    const crypto = yield* cryptoSuite
    const entropy = yield* Entropy
    const verifier = yield* CertVerifier
    const transport = yield* Transport
    const options = { ...defaultChannelOptions, ...config.options }
    const fixed = {
      crypto,
      identity: config.identity,
      allowAnonymousPeer: config.allowAnonymousPeer ?? false,
      publicIdentity: config.publicIdentity,
      requestPublicChain: config.requestPublicChain
    }
    const identityNow = config.identityNow
    const handshakeConfig = () => (identityNow === undefined ? fixed : { ...fixed, identity: identityNow() })
    const handshakeTimeout = Duration.decode(options.handshakeTimeout)
    const connectTimeout = Duration.decode(options.connectTimeout)
    const limits = {
      idleTimeout: Duration.decode(options.idleTimeout),
      writeTimeout: Duration.decode(options.writeTimeout),
      rekeyAfterRecords: BigInt(Math.max(2, Math.floor(options.rekeyAfterRecords)))
    }

    const finish = (
      conn: Connection,
      run: (reader: FrameReader) => Effect.Effect<HandshakeResult, ChannelError>
    ): Effect.Effect<SecureChannel<In, Out>, ChannelError, Scope.Scope> =>
      Effect.gen(function* () {
        const reader = new FrameReader(conn, HANDSHAKE_FRAME_LIMIT)
        // The handshake deadline tears the connection down, so the handshake's pending read fails.
        const watchdog = yield* Watchdog.start(handshakeTimeout, () =>
          Effect.zipRight(sendAlert(conn, "timeout", undefined), conn.destroy)
        )
        const result = yield* run(reader).pipe(
          Effect.mapError((e) =>
            watchdog.expired === "handshake"
              ? new ChannelError({
                  reason: "HandshakeTimeout",
                  alert: "timeout",
                  message: `the handshake did not complete within ${Duration.format(options.handshakeTimeout)}`
                })
              : e
          ),
          // FIN, then drain briefly: closing with unread input would reset the alert we just sent.
          Effect.tapError(() => Effect.zipRight(watchdog.stop(), lingerClose(conn)))
        )
        const channel = yield* makeChannel(
          conn,
          reader,
          crypto,
          config.codec,
          result.established,
          result,
          limits,
          watchdog
        )
        // Scope.addFinalizer rather than Effect.addFinalizer: the latter captures the fiber's refs for
        // the connection's lifetime, which idle connections should not pay for.
        yield* Effect.scopeWith((scope) => Scope.addFinalizer(scope, channel.close()))
        return channel
      })

    const initiate = (conn: Connection, expect: Expectation) =>
      finish(conn, (reader) => runInitiator(conn, reader, handshakeConfig(), entropy, verifier, expect))

    const service: SecureChannelsService<In, Out> = {
      initiate,
      accept: (conn) => finish(conn, (reader) => runResponder(conn, reader, handshakeConfig(), entropy, verifier)),
      // The connect timeout is the transport's (see Transport.dial): racing the dial against a sleep
      // cost two fibers and an interruption per connection (issue 15).
      dial: (address, expect) =>
        transport.dial(address, connectTimeout).pipe(
          Effect.mapError((e) =>
            e.reason === "ConnectTimeout" && e.cause === undefined
              ? new ChannelError({
                  reason: "Transport",
                  message: `could not connect to ${formatAddress(address)} within ${Duration.format(options.connectTimeout)}`,
                  cause: e
                })
              : new ChannelError({ reason: "Transport", message: `could not connect: ${e.message}`, cause: e })
          ),
          Effect.flatMap((conn) => initiate(conn, expect))
        )
    }
    return service
  })

/** The E2E `SecureChannels` service for a node with this identity. */
export const layer = (identity: LocalIdentity, options?: Partial<ChannelOptions>) =>
  Layer.effect(SecureChannels, make({ codec: e2eCodec, identity, ...(options === undefined ? {} : { options }) }))
