/**
 * Framing (PROTOCOL.md §3) and record protection (section 5): property tests and fixed cases.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  encodeFrame,
  FrameDecoder,
  FrameError,
  HANDSHAKE_FRAME_LIMIT,
  RECORD_FRAME_LIMIT,
  REUSE_FROM
} from "../../src/domain/channel/framing.js"
import { ContentType, GATHER_FROM, MAX_CONTENT, RecordProtection } from "../../src/domain/channel/record.js"
import * as NobleCrypto from "../../src/layers/crypto/NobleCrypto.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"

/** Feeds `bytes` in the given chunk sizes and drains every frame; returns frames and the first error. */
const drain = (bytes: Uint8Array, cuts: ReadonlyArray<number>, limit: number, reuse = false) => {
  const d = new FrameDecoder(limit)
  if (reuse) d.reuseAssembly()
  const frames: Array<Uint8Array> = []
  let error: FrameError | undefined
  let offset = 0
  const feed = (n: number) => {
    d.push(bytes.subarray(offset, offset + n))
    offset += n
    for (;;) {
      const r = d.next()
      if (r instanceof FrameError) {
        error = r
        return
      }
      if (r === undefined) return
      // A copy: with `reuse` the payload is only valid until the next `next()`.
      frames.push(reuse ? r.slice() : r)
    }
  }
  for (const c of cuts) if (error === undefined && offset < bytes.length) feed(Math.min(c, bytes.length - offset))
  if (error === undefined && offset < bytes.length) feed(bytes.length - offset)
  return { frames, error: error ?? d.endOfStream(), buffered: d.bufferedBytes }
}

describe("framing", () => {
  it("round-trips any frames split at any points", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 20 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map(encodeFrame))
          const { frames, error } = drain(stream, cuts, HANDSHAKE_FRAME_LIMIT)
          expect(error).toBeUndefined()
          expect(frames.map((f) => Buffer.from(f).toString("hex"))).toEqual(
            payloads.map((p) => Buffer.from(p).toString("hex"))
          )
        }
      ),
      { numRuns: 300 }
    )
  })

  it("with the reused assembly buffer (established channels), every payload is right when it is returned", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 20 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map(encodeFrame))
          const { frames, error } = drain(stream, cuts, HANDSHAKE_FRAME_LIMIT, true)
          expect(error).toBeUndefined()
          expect(frames.map((f) => Buffer.from(f).toString("hex"))).toEqual(
            payloads.map((p) => Buffer.from(p).toString("hex"))
          )
        }
      ),
      { numRuns: 300 }
    )
    // Two large frames that each span chunks come back in the same memory: no allocation per frame.
    const n = REUSE_FROM
    const d = new FrameDecoder(4 * n)
    d.reuseAssembly()
    const two = Buffer.concat([encodeFrame(new Uint8Array(n).fill(1)), encodeFrame(new Uint8Array(n).fill(2))])
    d.push(two.subarray(0, 30))
    d.push(two.subarray(30, n + 4))
    const first = d.next() as Uint8Array
    expect(first.every((b) => b === 1)).toBe(true)
    d.push(two.subarray(n + 4, n + 40))
    d.push(two.subarray(n + 40))
    const second = d.next() as Uint8Array
    expect(second.every((b) => b === 2)).toBe(true)
    expect(second.buffer).toBe(first.buffer)
  })

  it("makes the reused buffer only when a large frame needs it: small frames, as an idle channel's, hold none", () => {
    const d = new FrameDecoder(4 * REUSE_FROM)
    d.reuseAssembly()
    const small = Buffer.concat([encodeFrame(new Uint8Array(50).fill(1)), encodeFrame(new Uint8Array(50).fill(2))])
    d.push(small.subarray(0, 30))
    d.push(small.subarray(30, 60))
    const first = d.next() as Uint8Array
    d.push(small.subarray(60, 80))
    d.push(small.subarray(80))
    const second = d.next() as Uint8Array
    expect([first.every((b) => b === 1), second.every((b) => b === 2)]).toEqual([true, true])
    // Each small frame got memory of its own, sized to it: no buffer of the frame limit was made.
    expect(second.buffer).not.toBe(first.buffer)
    expect([first.buffer.byteLength, second.buffer.byteLength]).toEqual([50, 50])
  })

  it("random input never throws and never buffers past one frame: frames, a typed error, or a wait", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.integer({ min: 1, max: 700 })), (bytes, cuts) => {
        const { error, buffered } = drain(bytes, cuts, 1024)
        if (error !== undefined) expect(["ZeroLength", "TooLarge", "TornFrame"]).toContain(error.reason)
        expect(buffered).toBeLessThanOrEqual(1024 + 700 + 4)
      }),
      { numRuns: 1000 }
    )
  })

  it("refuses zero-length and oversized frames, and a stream torn inside a frame", () => {
    expect(drain(new Uint8Array([0, 0, 0, 0]), [], 100).error?.reason).toBe("ZeroLength")
    expect(drain(new Uint8Array([0, 0, 0x40, 0x01]), [], HANDSHAKE_FRAME_LIMIT).error?.reason).toBe("TooLarge")
    const max = encodeFrame(new Uint8Array(RECORD_FRAME_LIMIT))
    expect(drain(max, [], RECORD_FRAME_LIMIT).frames).toHaveLength(1)
    expect(drain(encodeFrame(new Uint8Array(RECORD_FRAME_LIMIT + 1)), [], RECORD_FRAME_LIMIT).error?.reason).toBe(
      "TooLarge"
    )
    expect(drain(encodeFrame(new Uint8Array(10)).subarray(0, 9), [], 100).error?.reason).toBe("TornFrame")
    expect(drain(new Uint8Array([0, 0]), [], 100).error?.reason).toBe("TornFrame")
  })
})

describe("records", () => {
  const keys = { key: new Uint8Array(32).fill(7), iv: new Uint8Array(12).fill(9) }
  for (const [name, aead] of [
    ["node", NodeCrypto.aead],
    ["noble", NobleCrypto.aead]
  ] as const) {
    it(`${name}: seal/open round trip, sequence advances, any flipped bit is refused`, () => {
      const tx = new RecordProtection(aead, keys)
      const rx = new RecordProtection(aead, keys)
      const frames = [
        tx.seal(ContentType.Xml, new TextEncoder().encode("<Ping/>")),
        tx.seal(ContentType.Data, new Uint8Array([1, 2, 3]))
      ]
      expect(tx.sequence).toBe(2n)
      const r0 = rx.open(frames[0]!.subarray(4))
      expect(r0?.type).toBe(ContentType.Xml)
      expect(new TextDecoder().decode(r0!.content)).toBe("<Ping/>")
      // Out of order (sequence 1 record opened as sequence 1 only): replaying frame 0 fails.
      expect(rx.open(frames[0]!.subarray(4))).toBeNull()
      expect(rx.sequence).toBe(1n)
      const r1 = rx.open(frames[1]!.subarray(4))
      expect(r1).toEqual({ type: ContentType.Data, content: new Uint8Array([1, 2, 3]) })
      // Every single bit flip of a record payload is refused.
      const tx2 = new RecordProtection(aead, keys)
      const frame = tx2.seal(ContentType.Xml, new TextEncoder().encode("<Ack/>"))
      const payload = frame.subarray(4)
      for (let bit = 0; bit < payload.length * 8; bit++) {
        const bad = payload.slice()
        bad[bit >> 3]! ^= 1 << (bit & 7)
        expect(new RecordProtection(aead, keys).open(bad)).toBeNull()
      }
    })
  }

  for (const [name, aead] of [
    ["node", NodeCrypto.aead],
    ["noble", NobleCrypto.aead]
  ] as const) {
    it(`${name}: sealForWrite's parts are the frame seal builds, byte for byte, and they open`, () => {
      const tx = new RecordProtection(aead, keys)
      const txParts = new RecordProtection(aead, keys)
      const rx = new RecordProtection(aead, keys)
      // Below, at and above the size from which records go out as parts, up to the largest record.
      for (const size of [0, 1, GATHER_FROM, GATHER_FROM + 1, 20_000, MAX_CONTENT]) {
        const content = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff)
        const whole = tx.seal(ContentType.Data, content)
        const written = txParts.sealForWrite(ContentType.Data, content)
        const parts = written instanceof Uint8Array ? [written] : written
        if (name === "node") expect(parts.length).toBe(size > GATHER_FROM ? 3 : 1)
        const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const part of parts) {
          joined.set(part, at)
          at += part.length
        }
        expect(joined).toEqual(new Uint8Array(whole))
        const opened = rx.open(joined.subarray(4))
        expect(opened?.type).toBe(ContentType.Data)
        expect(opened?.content).toEqual(content)
      }
      expect(txParts.sequence).toBe(tx.sequence)
      expect(() => txParts.sealForWrite(ContentType.Data, new Uint8Array(MAX_CONTENT + 1))).toThrow(RangeError)
    })
  }
})

describe("records through the reused assembly buffer (the established channel's read path)", () => {
  const keys = { key: new Uint8Array(32).fill(3), iv: new Uint8Array(12).fill(5) }
  const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff)

  for (const [name, aead, stride] of [
    ["node", NodeCrypto.aead, 1],
    ["noble", NobleCrypto.aead, 61]
  ] as const) {
    it(`${name}: a large record split in two at every offset opens, and its first part may be reused at once`, () => {
      const content = pattern(REUSE_FROM + 5, 1)
      // A plain copy: the node provider's frame is a Buffer, whose `slice` would not copy.
      const frame = new Uint8Array(new RecordProtection(aead, keys).seal(ContentType.Data, content))
      for (let cut = 1; cut < frame.length; cut += cut < 64 || cut > frame.length - 64 ? 1 : stride) {
        const d = new FrameDecoder(RECORD_FRAME_LIMIT)
        d.reuseAssembly()
        const head = frame.slice(0, cut)
        d.push(head)
        expect(d.next()).toBeUndefined()
        // Once the header is in, the decoder has copied what it holds: the caller's chunk is free
        // again (a socket may reuse it), which overwriting it here shows.
        if (cut >= 4) head.fill(0)
        d.push(frame.slice(cut))
        const payload = d.next()
        if (!(payload instanceof Uint8Array)) throw new Error(`no frame at cut ${cut}`)
        const opened = new RecordProtection(aead, keys).open(payload)
        expect(opened?.type).toBe(ContentType.Data)
        expect(Buffer.compare(opened!.content, content)).toBe(0)
        expect(d.atBoundary).toBe(true)
      }
    })
  }

  it("a stream of records cut into chunks of any size opens in order, including 64 KiB reads", () => {
    const tx = new RecordProtection(NodeCrypto.aead, keys)
    const contents = [MAX_CONTENT, REUSE_FROM + 1, 100, MAX_CONTENT, 1, REUSE_FROM - 1, MAX_CONTENT].map(pattern)
    const stream = Buffer.concat(contents.map((c) => tx.seal(ContentType.Data, c)))
    for (const size of [1, 3, 1000, REUSE_FROM, 65535, 65536, 65537, 70000, stream.length]) {
      const rx = new RecordProtection(NodeCrypto.aead, keys)
      const d = new FrameDecoder(RECORD_FRAME_LIMIT)
      d.reuseAssembly()
      const got: Array<Uint8Array> = []
      for (let at = 0; at < stream.length; at += size) {
        d.push(stream.subarray(at, at + size))
        for (let f = d.next(); f !== undefined; f = d.next()) {
          if (f instanceof FrameError) throw f
          const opened = rx.open(f)
          if (opened === null) throw new Error(`a record did not open (chunks of ${size})`)
          got.push(opened.content)
        }
      }
      expect(got.map((c) => c.length)).toEqual(contents.map((c) => c.length))
      expect(got.map((c, i) => Buffer.compare(c, contents[i]!))).toEqual(contents.map(() => 0))
      expect([d.atBoundary, d.bufferedBytes, rx.sequence]).toEqual([true, 0, BigInt(contents.length)])
    }
  })
})
