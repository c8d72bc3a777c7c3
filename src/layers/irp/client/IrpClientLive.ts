/**
 * The IRP client (PROTOCOL.md §17): one secure channel to the domain's IRP server, dialled as the
 * initiator expecting the server certificate (EKU serverAuth, SAN dNSName = the server name), checked by
 * the `CertVerifier` of the context (one that trusts the domain's root, or a mock); anonymous when it has
 * no identity yet (enrolment).
 *
 * By step: dial here, then requests multiplexed by id over the channel (`multiplexer.ts`), each method
 * building its request and checking its answer (`requests.ts`).
 */
import { Context, Duration, Effect, Either, Layer, Scope } from "effect"
import { makeLocalIdentity } from "../../../domain/handshake/identity.js"
import { irpClientCodec } from "../../../domain/irp/xml.js"
import type { CertVerifier } from "../../../services/CertVerifier.js"
import { cryptoSuite } from "../../../services/Crypto.js"
import { Entropy } from "../../../services/Entropy.js"
import {
  type IrpClient,
  IrpClientError,
  IrpClients,
  type IrpClientsService,
  type IrpConnectOptions
} from "../../../services/IrpClient.js"
import type { Transport } from "../../../services/Transport.js"
import { make as makeChannels } from "../../channel/SecureChannelLive.js"
import type { CryptoPorts } from "../../crypto/CryptoLive.js"
import { channelFailure, type Endpoint, timedOut } from "./errors.js"
import { startMultiplexer } from "./multiplexer.js"
import { makeRequests } from "./requests.js"

export const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(10)
export const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
export const DEFAULT_KEEP_ALIVE = Duration.seconds(60)

export type ClientRequirements = Transport | CryptoPorts | Entropy | CertVerifier

/** Dials the server and returns a client that lives until the scope closes. */
export const connect = (
  options: IrpConnectOptions
): Effect.Effect<IrpClient, IrpClientError, Scope.Scope | ClientRequirements> =>
  Effect.gen(function* () {
    const serverName = options.serverName ?? (options.domain === undefined ? undefined : `irp.${options.domain}`)
    if (serverName === undefined) return yield* Effect.dieMessage("IrpClient.connect needs serverName or domain")
    const endpoint: Endpoint = { address: options.address, serverName }
    const requestTimeout = Duration.decode(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT)
    const connectTimeout = Duration.decode(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const crypto = yield* cryptoSuite

    const identity =
      options.identity === null ? null : makeLocalIdentity(crypto, options.identity.pkcs8, options.identity.chain)
    if (identity !== null && Either.isLeft(identity))
      return yield* new IrpClientError({
        reason: "Identity",
        message: `Our identity cannot be used: ${identity.left}; check the key and certificate in the identity home.`
      })
    const channels = yield* makeChannels({
      codec: irpClientCodec,
      identity: identity === null ? null : identity.right,
      requestPublicChain: options.publicChain,
      options: { handshakeTimeout: connectTimeout }
    })
    const channel = yield* channels.dial(options.address, { _tag: "DnsName", dnsName: serverName }).pipe(
      Effect.mapError((e) => channelFailure(endpoint, e)),
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () => timedOut(endpoint, "accept the connection", Duration.toMillis(connectTimeout))
      })
    )

    const mux = yield* startMultiplexer(channel, endpoint, requestTimeout, yield* Entropy)
    const ping = mux.ok((id) => ({ _tag: "irp.Ping", id }))
    yield* Effect.sleep(options.keepAlive ?? DEFAULT_KEEP_ALIVE).pipe(
      Effect.zipRight(Effect.ignore(ping)),
      Effect.forever,
      Effect.forkScoped
    )

    // The server judges our certificate after our last handshake flight, so a refusal (revoked, expired,
    // another domain's) arrives only afterwards: one round trip makes `connect` itself report it.
    if (options.identity !== null) yield* ping

    return makeRequests(mux, endpoint, options.identity, channel.peer.certificate, ping, channel.close())
  })

/**
 * The `IrpClients` service over the Transport, CertVerifier, crypto ports and Entropy of the layer's context. The
 * captured context must not carry the builder's `Scope`: each client lives in its caller's scope.
 */
export const make: Effect.Effect<IrpClientsService, never, ClientRequirements> = Effect.map(
  Effect.context<ClientRequirements>(),
  (captured): IrpClientsService => {
    const context = Context.omit(Scope.Scope)(captured as Context.Context<ClientRequirements | Scope.Scope>)
    return { connect: (options) => Effect.provide(connect(options), context as Context.Context<ClientRequirements>) }
  }
)

export const layer: Layer.Layer<IrpClients, never, ClientRequirements> = Layer.effect(IrpClients, make)
