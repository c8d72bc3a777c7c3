/**
 * Crypto ports. Each is a small tag over the pure primitive interfaces of `domain/crypto/primitives`;
 * `layers/crypto/NodeCrypto` (node:crypto, the default) and `layers/crypto/NobleCrypto` (the audited
 * pure-JS reference) provide all four. `SIXCHAT_CRYPTO=node|noble` picks one (`layers/crypto/CryptoLive`).
 */
import { Context, Effect } from "effect"
import type * as P from "../domain/crypto/primitives.js"

export class Hashing extends Context.Tag("sixchat/Hashing")<Hashing, P.Hashing>() {}
export class Aead extends Context.Tag("sixchat/Aead")<Aead, P.Aead>() {}
export class KeyExchange extends Context.Tag("sixchat/KeyExchange")<KeyExchange, P.KeyExchange>() {}
export class Signer extends Context.Tag("sixchat/Signer")<Signer, P.Signatures>() {}

/** All four ports of one provider, gathered for the handshake and the record layer. */
export const cryptoSuite: Effect.Effect<P.CryptoSuite, never, Hashing | Aead | KeyExchange | Signer> = Effect.all({
  hashing: Hashing,
  aead: Aead,
  keyExchange: KeyExchange,
  signatures: Signer
})
