/**
 * Entropy implementations. `layer` draws from the operating system's CSPRNG; `seeded` is a
 * deterministic generator for tests and simulations: the same seed yields the same byte stream.
 *
 * The seeded stream is the ChaCha20 (RFC 8439) keystream under key SHA-256(seed) and an all-zero
 * nonce, taken in order: `bytes(3)` then `bytes(5)` equals the first 8 bytes of `bytes(8)`. It is
 * for reproducibility only and never for production keys.
 */
import * as crypto from "node:crypto"
import { Effect, Layer } from "effect"
import { Entropy, type EntropyService } from "../services/Entropy.js"

const checkLength = (length: number): void => {
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`Entropy.bytes takes a non-negative integer length, got ${length}`)
  }
}

/** Small requests are cut from a block of this many CSPRNG bytes; larger ones are drawn directly. */
const POOL_BYTES = 4096
const POOLED_MAX = 256
let pool = new Uint8Array(0)
let poolOffset = 0

/**
 * The OS CSPRNG. A handshake draws 32-byte values several times on each side, and each
 * `randomFillSync` call costs ~4 µs of fixed overhead (issue 15), so small requests are cut from a
 * 4 KiB block drawn at once. Every byte is handed out once, as a copy, and zeroed in the block.
 */
export const system: EntropyService = {
  bytes: (length) => {
    checkLength(length)
    if (length > POOLED_MAX) return crypto.randomFillSync(new Uint8Array(length))
    if (poolOffset + length > pool.length) {
      pool = crypto.randomFillSync(new Uint8Array(POOL_BYTES))
      poolOffset = 0
    }
    // A copy, so the caller's array has its own buffer (nothing else readable through `.buffer`), and
    // the block forgets the bytes it handed out.
    const out = pool.slice(poolOffset, poolOffset + length)
    pool.fill(0, poolOffset, poolOffset + length)
    poolOffset += length
    return out
  }
}

/** A fresh deterministic generator: each call starts the stream of `seed` from its beginning. */
export const seededService = (seed: string | Uint8Array): EntropyService => {
  const key = crypto.createHash("sha256").update(seed).digest()
  // OpenSSL's chacha20 IV: 32-bit little-endian block counter || 96-bit nonce, all zero here.
  // The cipher keeps its position between calls, so the output is one continuous keystream.
  const stream = crypto.createCipheriv("chacha20", key, Buffer.alloc(16))
  return {
    bytes: (length) => {
      checkLength(length)
      const out = stream.update(new Uint8Array(length))
      return new Uint8Array(out.buffer, out.byteOffset, out.length)
    }
  }
}

export const make: Effect.Effect<EntropyService> = Effect.succeed(system)

export const layer: Layer.Layer<Entropy> = Layer.succeed(Entropy, system)

export const makeSeeded = (seed: string | Uint8Array): Effect.Effect<EntropyService> =>
  Effect.sync(() => seededService(seed))

/** Each build of this layer starts the seed's stream afresh. */
export const seeded = (seed: string | Uint8Array): Layer.Layer<Entropy> => Layer.effect(Entropy, makeSeeded(seed))
