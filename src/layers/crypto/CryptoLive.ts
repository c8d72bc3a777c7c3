/**
 * Chooses the crypto provider behind the four crypto ports (PROTOCOL.md §6: X25519 and
 * AES-256-GCM come through the KeyExchange and Aead ports, from noble or node:crypto).
 *
 * `layer` reads `SIXCHAT_CRYPTO` (`node` | `noble`, default `node`). The noble modules are loaded
 * only when that provider is chosen, so the default start-up does not pay for them.
 */
import { Config, type ConfigError, Effect, Layer } from "effect"
import type { ProviderName } from "../../domain/crypto/primitives.js"
import type { Aead, Hashing, KeyExchange, Signer } from "../../services/Crypto.js"
import * as NodeCrypto from "./NodeCrypto.js"

export type CryptoPorts = Hashing | Aead | KeyExchange | Signer

/** node:crypto (OpenSSL): the default, and the fast one. */
export const layerNode: Layer.Layer<CryptoPorts> = NodeCrypto.layer

/** `@noble/*`: the pure-JS reference, imported on demand. */
export const layerNoble: Layer.Layer<CryptoPorts> = Layer.unwrapEffect(
  Effect.promise(() => import("./NobleCrypto.js")).pipe(Effect.map((noble) => noble.layer))
)

export const layerFor = (name: ProviderName): Layer.Layer<CryptoPorts> => (name === "noble" ? layerNoble : layerNode)

/** The provider name from `SIXCHAT_CRYPTO`; anything but `node` or `noble` is a configuration error. */
export const providerConfig: Config.Config<ProviderName> = Config.literal(
  "node",
  "noble"
)("SIXCHAT_CRYPTO").pipe(Config.withDefault<ProviderName>("node"))

export const layer: Layer.Layer<CryptoPorts, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(providerConfig, layerFor)
)
