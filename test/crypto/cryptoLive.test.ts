/**
 * CryptoLive picks the provider from SIXCHAT_CRYPTO (default node) and provides all four ports
 * from the same provider.
 */
import { it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import { describe, expect } from "vitest"
import * as CryptoLive from "../../src/layers/crypto/CryptoLive.js"
import { cryptoSuite } from "../../src/services/Crypto.js"

const providers = Effect.map(cryptoSuite, (suite) => [
  suite.hashing.provider,
  suite.aead.provider,
  suite.keyExchange.provider,
  suite.signatures.provider
])

const withEnv = (env: Record<string, string>) =>
  CryptoLive.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

describe("CryptoLive", () => {
  it.effect("defaults to node", () =>
    Effect.gen(function* () {
      expect(yield* providers.pipe(Effect.provide(withEnv({})))).toEqual(["node", "node", "node", "node"])
    })
  )

  it.effect("honours SIXCHAT_CRYPTO", () =>
    Effect.gen(function* () {
      expect(yield* providers.pipe(Effect.provide(withEnv({ SIXCHAT_CRYPTO: "noble" })))).toEqual([
        "noble",
        "noble",
        "noble",
        "noble"
      ])
      expect(yield* providers.pipe(Effect.provide(withEnv({ SIXCHAT_CRYPTO: "node" })))).toEqual([
        "node",
        "node",
        "node",
        "node"
      ])
    })
  )

  it.effect("refuses an unknown provider name", () =>
    Effect.gen(function* () {
      const exit = yield* providers.pipe(Effect.provide(withEnv({ SIXCHAT_CRYPTO: "openssl" })), Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("SIXCHAT_CRYPTO")
    })
  )

  it.effect("layerFor selects by name", () =>
    Effect.gen(function* () {
      expect(yield* providers.pipe(Effect.provide(CryptoLive.layerFor("noble")))).toEqual([
        "noble",
        "noble",
        "noble",
        "noble"
      ])
      expect(yield* providers.pipe(Effect.provide(CryptoLive.layerNode))).toEqual(["node", "node", "node", "node"])
    })
  )
})
