/** Small helpers shared by the transport tests. */
import { Effect } from "effect"
import type { Connection, TransportError } from "../../src/services/Transport.js"

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

/** Reads until end of stream; fails with the first transport error. */
export const readAll = (connection: Connection): Effect.Effect<Uint8Array, TransportError> =>
  Effect.gen(function* () {
    const chunks: Array<Uint8Array> = []
    for (;;) {
      const chunk = yield* connection.read
      if (chunk === null) return concat(chunks)
      chunks.push(chunk)
    }
  })

/** Deterministic test pattern: byte i of the stream is (i * 31 + (i >>> 16)) & 0xff. */
export const patternByte = (i: number): number => (i * 31 + (i >>> 16)) & 0xff

export const patternChunk = (offset: number, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = patternByte(offset + i)
  return out
}

/** Index of the first byte of `chunk` (at stream `offset`) that differs from the pattern, or -1. */
export const patternMismatch = (chunk: Uint8Array, offset: number): number => {
  for (let i = 0; i < chunk.byteLength; i++) if (chunk[i] !== patternByte(offset + i)) return offset + i
  return -1
}
