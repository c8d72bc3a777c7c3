/**
 * Framing (PROTOCOL.md §3): `uint32 BE length N || N bytes`, with `1 <= N <= limit`.
 * The limit is 16 KiB until the handshake completes and 64 KiB + 256 afterwards.
 * The decoder never holds more than one frame plus the chunk that completed it.
 */
import { Data } from "effect"

export const HANDSHAKE_FRAME_LIMIT = 16 * 1024
export const RECORD_FRAME_LIMIT = 64 * 1024 + 256
export const HEADER_LENGTH = 4

export class FrameError extends Data.TaggedError("FrameError")<{
  /** `TornFrame`: the stream ended inside a frame (PROTOCOL.md §3.3); an end at a boundary is not a FrameError. */
  readonly reason: "ZeroLength" | "TooLarge" | "TornFrame"
  readonly message: string
}> {}

/** Header + payload in one buffer. */
export const encodeFrame = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(HEADER_LENGTH + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, HEADER_LENGTH)
  return out
}

/** Frames that span chunks from this size on are put together in the reused buffer (`reuseAssembly`). */
export const REUSE_FROM = 16 * 1024

/**
 * Incremental decoder. Feed chunks with `push`, take frames with `next`.
 * `next` returns a payload, `undefined` when more input is needed, or a `FrameError`.
 */
export class FrameDecoder {
  private chunks: Array<Uint8Array> = []
  private buffered = 0
  private pendingLength = -1
  /** See `reuseAssembly`: where frames that span chunks are put together, reused frame after frame. */
  private assembly: Uint8Array | undefined
  private reuse = false
  /**
   * Bytes of the pending frame already copied into `assembly` (counted in `buffered`; the chunks hold
   * the rest). Non-zero only while a large frame is incomplete in reuse mode (see `absorb`).
   */
  private filled = 0

  constructor(private limit: number) {}

  /**
   * From now on a frame that arrives in several chunks is put together in one buffer owned by the
   * decoder and reused for the next such frame, instead of a fresh buffer per frame (a bulk record of
   * 64 KiB + 21 bytes never fits one 64 KiB socket read, so without this every one cost a 64 KiB
   * allocation and its share of garbage collection). A payload returned by `next` is then valid only
   * until the following `next` call: for a caller that is done with it by then, as the record layer
   * is (it decrypts into fresh memory at once). The handshake, which keeps frames, does not use it.
   *
   * An incomplete large frame is also moved into that buffer as soon as `next` finds it incomplete,
   * instead of when its last byte arrives: the same bytes are copied once either way, but the socket
   * chunks are let go before the reader waits for the next one (a bulk record straddles two 64 KiB
   * reads, so one chunk was always held across that wait). A buffer that lives across waits is more
   * likely to survive a young-generation collection, and then stays until a full one (issue 15).
   */
  reuseAssembly(): void {
    this.reuse = true
  }

  /** Raise (or lower) the size limit, e.g. once the handshake has completed. */
  setLimit(limit: number): void {
    this.limit = limit
  }

  /** Bytes held but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /** True when no bytes of a next frame have arrived (so EOF here is a clean boundary). */
  get atBoundary(): boolean {
    return this.buffered === 0 && this.pendingLength < 0
  }

  /** Whether `next()` could make progress without more input. */
  get needsInput(): boolean {
    return this.pendingLength < 0 ? this.buffered < HEADER_LENGTH : this.buffered < this.pendingLength
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
  }

  next(): Uint8Array | undefined | FrameError {
    if (this.pendingLength < 0) {
      if (this.buffered < HEADER_LENGTH) return undefined
      const first = this.chunks[0]!
      // The header is usually whole in the first chunk: read it in place instead of slicing it off.
      const inPlace = first.length > HEADER_LENGTH
      const header = inPlace ? first : this.take(HEADER_LENGTH)
      const length = ((header[0]! << 24) | (header[1]! << 16) | (header[2]! << 8) | header[3]!) >>> 0
      if (length === 0) return new FrameError({ reason: "ZeroLength", message: "received a zero-length frame" })
      if (length > this.limit)
        return new FrameError({
          reason: "TooLarge",
          message: `received a frame of ${length} bytes, over the limit of ${this.limit}`
        })
      if (inPlace) {
        this.chunks[0] = first.subarray(HEADER_LENGTH)
        this.buffered -= HEADER_LENGTH
      }
      this.pendingLength = length
    }
    if (this.buffered < this.pendingLength) {
      if (this.reuse && this.pendingLength >= REUSE_FROM) this.absorb()
      return undefined
    }
    const payload = this.filled > 0 ? this.complete() : this.take(this.pendingLength)
    this.pendingLength = -1
    return payload
  }

  /** Moves every held chunk (all of them belong to the pending, incomplete frame) into `assembly`. */
  private absorb(): void {
    // Made by the first large frame that needs it, as in `take` (an idle channel holds none).
    if (this.assembly === undefined) this.assembly = new Uint8Array(this.limit)
    const assembly = this.assembly
    if (this.pendingLength > assembly.length) return
    const chunks = this.chunks
    for (const c of chunks) {
      assembly.set(c, this.filled)
      this.filled += c.length
    }
    chunks.length = 0
  }

  /** The pending frame, absorbed in part: the rest comes from the chunks, behind what is there. */
  private complete(): Uint8Array {
    const n = this.pendingLength
    const out = this.assembly!.subarray(0, n)
    this.copyInto(out, this.filled, n)
    this.filled = 0
    this.buffered -= n
    return out
  }

  /** Fills `out[from..to)` from the front of the chunk queue, consuming what it takes. */
  private copyInto(out: Uint8Array, from: number, to: number): void {
    let filled = from
    while (filled < to) {
      const c = this.chunks[0]!
      const want = to - filled
      if (c.length <= want) {
        out.set(c, filled)
        filled += c.length
        this.chunks.shift()
      } else {
        out.set(c.subarray(0, want), filled)
        this.chunks[0] = c.subarray(want)
        filled += want
      }
    }
  }

  /** The error to report when the stream ends here: `undefined` at a frame boundary. */
  endOfStream(): FrameError | undefined {
    return this.atBoundary
      ? undefined
      : new FrameError({ reason: "TornFrame", message: "the stream ended inside a frame (a torn frame)" })
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!
    this.buffered -= n
    if (first.length === n) {
      this.chunks.shift()
      return first
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    // The reused buffer is made by the first large frame that needs it, not up front: an idle channel
    // (most of a person's sessions) holds none, as OpenSSL's SSL_MODE_RELEASE_BUFFERS holds no read
    // buffer while nothing is read. A channel that carried bulk records keeps its one buffer.
    if (this.reuse && this.assembly === undefined && n >= REUSE_FROM) this.assembly = new Uint8Array(this.limit)
    const assembly = this.assembly
    const out = assembly !== undefined && n <= assembly.length ? assembly.subarray(0, n) : new Uint8Array(n)
    this.copyInto(out, 0, n)
    return out
  }
}
