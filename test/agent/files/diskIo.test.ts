/**
 * The sender's scattered reads (issue 15; async and, as the sender runs them, synchronous) and the
 * receiver's buffer writes: a batch is read straight into record-shaped buffers, each
 * chunk behind the room for its header, from a real file; short reads continue where they stopped,
 * and the end of the file gives fewer bytes, never a hang.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as fs from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { chunkViews, readScattered, readScatteredSync, writeFullySync } from "../../../src/layers/agent/files/diskIo.js"

const dir = mkdtempSync(join(tmpdir(), "sixchat-diskio-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("scattered reads", () => {
  it("chunkViews lays out chunks after a gap each, the last one shorter", () => {
    const buffer = new Uint8Array(3 * (4 + 10))
    const views = chunkViews(buffer, 4, 10, 25)
    expect(views.map((v) => [v.byteOffset, v.length])).toEqual([
      [4, 10],
      [18, 10],
      [32, 5]
    ])
    expect(chunkViews(buffer, 4, 10, 0)).toEqual([])
  })

  it("reads a file into record-shaped buffers: every chunk where it belongs, gaps untouched", async () => {
    const file = join(dir, "a.bin")
    const bytes = randomBytes(100_003)
    writeFileSync(file, bytes)
    const handle = await fs.open(file, "r")
    try {
      const gap = 24
      const chunk = 4096
      const from = 777
      const length = 50_000
      const buffer = new Uint8Array(Math.ceil(length / chunk) * (gap + chunk)).fill(0xee)
      const got = await readScattered(handle, chunkViews(buffer, gap, chunk, length), from)
      expect(got).toBe(length)
      for (let o = 0, base = 0; o < length; o += chunk, base += gap + chunk) {
        const n = Math.min(chunk, length - o)
        expect(buffer.subarray(base, base + gap).every((b) => b === 0xee)).toBe(true)
        expect(
          Buffer.from(buffer.subarray(base + gap, base + gap + n)).equals(bytes.subarray(from + o, from + o + n))
        ).toBe(true)
      }
    } finally {
      await handle.close()
    }
  })

  it("the synchronous read (the sender's) fills the same buffers the same way, and stops at the end", async () => {
    const file = join(dir, "s.bin")
    const bytes = randomBytes(100_003)
    writeFileSync(file, bytes)
    const handle = await fs.open(file, "r")
    try {
      const gap = 24
      const chunk = 4096
      const length = 50_000
      const a = new Uint8Array(Math.ceil(length / chunk) * (gap + chunk)).fill(0xee)
      const b = a.slice()
      expect(readScatteredSync(handle, chunkViews(a, gap, chunk, length), 777)).toBe(length)
      expect(await readScattered(handle, chunkViews(b, gap, chunk, length), 777)).toBe(length)
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
      expect(readScatteredSync(handle, chunkViews(a, gap, chunk, length), 100_003 - 1000)).toBe(1000)
      expect(readScatteredSync(handle, chunkViews(a, gap, chunk, length), 100_003)).toBe(0)
      expect(readScatteredSync(handle, [], 0)).toBe(0)
    } finally {
      await handle.close()
    }
  })

  it("stops at the end of the file: the bytes that are there, then 0", async () => {
    const file = join(dir, "b.bin")
    const bytes = randomBytes(10_000)
    writeFileSync(file, bytes)
    const handle = await fs.open(file, "r")
    try {
      const buffer = new Uint8Array(4 * (8 + 4096))
      const views = chunkViews(buffer, 8, 4096, 4 * 4096)
      expect(await readScattered(handle, views, 1000)).toBe(9000)
      expect(Buffer.from(buffer.subarray(8 + 4096 + 8, 8 + 4096 + 8 + 4096)).equals(bytes.subarray(5096, 9192))).toBe(
        true
      )
      expect(await readScattered(handle, views, 10_000)).toBe(0)
    } finally {
      await handle.close()
    }
  })

  it("a short read goes on behind what arrived", async () => {
    const file = join(dir, "c.bin")
    const bytes = randomBytes(30_000)
    writeFileSync(file, bytes)
    const real = await fs.open(file, "r")
    try {
      // A handle whose readv never returns more than 1000 bytes at a time (as a pipe or a slow
      // file system may), over the real file.
      const calls: Array<number> = []
      const short = {
        readv: async (views: ReadonlyArray<Uint8Array>, position: number) => {
          calls.push(position)
          let left = 1000
          const limited: Array<Uint8Array> = []
          for (const v of views) {
            if (left === 0) break
            limited.push(v.subarray(0, Math.min(left, v.length)))
            left -= Math.min(left, v.length)
          }
          return real.readv(limited, position)
        }
      } as unknown as fs.FileHandle
      const buffer = new Uint8Array(3 * (24 + 4000))
      const got = await readScattered(short, chunkViews(buffer, 24, 4000, 10_500), 123)
      expect(got).toBe(10_500)
      expect(calls.length).toBe(11)
      for (let o = 0, base = 24; o < 10_500; o += 4000, base += 4024) {
        const n = Math.min(4000, 10_500 - o)
        expect(Buffer.from(buffer.subarray(base, base + n)).equals(bytes.subarray(123 + o, 123 + o + n))).toBe(true)
      }
    } finally {
      await real.close()
    }
  })
})

describe("the receiver's buffer writes", () => {
  it("writeFullySync puts every byte at its position and leaves the rest of the file as it was", async () => {
    const file = join(dir, "w.bin")
    const before = randomBytes(3 * 1024 * 1024)
    writeFileSync(file, before)
    const handle = await fs.open(file, "r+")
    try {
      const bytes = randomBytes(1024 * 1024 + 5)
      const at = 1_000_003
      expect(writeFullySync(handle, bytes, at)).toBe(bytes.length)
      const after = await fs.readFile(file)
      expect(after.length).toBe(before.length)
      expect(after.subarray(at, at + bytes.length).equals(bytes)).toBe(true)
      expect(after.subarray(0, at).equals(before.subarray(0, at))).toBe(true)
      expect(after.subarray(at + bytes.length).equals(before.subarray(at + bytes.length))).toBe(true)
    } finally {
      await handle.close()
    }
  })

  it("a write on a closed handle throws, for the caller to turn into its typed error", async () => {
    const handle = await fs.open(join(dir, "closed.bin"), "w")
    await handle.close()
    expect(() => writeFullySync(handle, new Uint8Array(10), 0)).toThrow()
  })
})
