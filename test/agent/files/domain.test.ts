/** The pure parts: the data record header, ids as 16 bytes, the rate meter, progress lines, the accept policy. */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import {
  mayAutoAccept,
  mayOpenTransfer,
  mayStoreOffer,
  offerProblem,
  parseAcceptPolicy
} from "../../../src/domain/agent/filePolicy.js"
import {
  decodeFileRecord,
  digestBytes,
  digestHex,
  encodeFileRecord,
  FILE_RECORD_HEADER_BYTES,
  fileIdBytes,
  fileIdKey,
  fileRecordOffset,
  MAX_FILE_CHUNK,
  sameFileId,
  ulidFromFileIdBytes
} from "../../../src/domain/agent/fileRecord.js"
import {
  etaSeconds,
  formatBytes,
  formatDuration,
  formatProgress,
  startMeter,
  updateMeter
} from "../../../src/domain/agent/progress.js"
import type { Id } from "../../../src/domain/brands.js"
import { ulidFrom } from "../../../src/domain/ulid.js"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("data record (PROTOCOL.md 5.4.4)", () => {
  it("a ULID is its 128-bit value; the ULID form comes back from the bytes", () => {
    expect(hex(fileIdBytes("00000000000000000000000001" as Id))).toBe("00000000000000000000000000000001")
    expect(hex(fileIdBytes("7ZZZZZZZZZZZZZZZZZZZZZZZZZ" as Id))).toBe("ff".repeat(16))
    // 48-bit time first: 2^47 ms is 0x8000_0000_0000.
    expect(hex(fileIdBytes(ulidFrom(2 ** 47, new Uint8Array(10)) as Id))).toBe(`800000000000${"00".repeat(10)}`)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const ulid = ulidFromFileIdBytes(bytes)
        expect(ulid).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/)
        expect(fileIdBytes(ulid)).toEqual(bytes)
        expect(fileIdKey(bytes)).toBe(hex(bytes))
      })
    )
  })

  it("a UUIDv7 is its 16 bytes", () => {
    const id = "01890a5d-ac96-774b-bcce-b302099a8057" as Id
    expect(hex(fileIdBytes(id))).toBe("01890a5dac96774bbcceb302099a8057")
  })

  it("header: id, uint64 big-endian offset, then the bytes; round trip at any safe offset", () => {
    const id = fileIdBytes("01HZX3M2B8C4D6E8F0G2H4J6K8" as Id)
    const record = encodeFileRecord(id, 0x1_0000_0002, new Uint8Array([9, 8, 7]))
    expect(record.length).toBe(FILE_RECORD_HEADER_BYTES + 3)
    expect(hex(record.subarray(16, 24))).toBe("0000000100000002")
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 300 }),
        (idBytes, offset, bytes) => {
          const decoded = Either.getOrThrow(decodeFileRecord(encodeFileRecord(idBytes, offset, bytes)))
          expect(decoded.offset).toBe(offset)
          expect(decoded.idBytes).toEqual(idBytes)
          expect(decoded.idKey).toBe(hex(idBytes))
          expect(decoded.bytes).toEqual(bytes)
        }
      )
    )
  })

  it("refuses a short record, an oversized one and an offset past 2^53 - 1", () => {
    expect(Either.isLeft(decodeFileRecord(new Uint8Array(23)))).toBe(true)
    expect(Either.isRight(decodeFileRecord(new Uint8Array(24)))).toBe(true)
    expect(Either.isRight(decodeFileRecord(new Uint8Array(24 + MAX_FILE_CHUNK)))).toBe(true)
    expect(Either.isLeft(decodeFileRecord(new Uint8Array(24 + MAX_FILE_CHUNK + 1)))).toBe(true)
    const far = new Uint8Array(24)
    far[16] = 0x00
    far[17] = 0x20 // 2^53
    expect(decodeFileRecord(far)).toEqual(Either.left("a data record's offset is beyond 2^53 - 1"))
    expect(MAX_FILE_CHUNK).toBe(65_512)
  })

  it("the fast path's offset and id check agree with decodeFileRecord", () => {
    const decodedOffset = (record: Uint8Array) =>
      Either.match(decodeFileRecord(record), { onLeft: () => undefined, onRight: (r) => r.offset })
    for (const record of [new Uint8Array(23), new Uint8Array(24), new Uint8Array(24 + MAX_FILE_CHUNK + 1)])
      expect(fileRecordOffset(record)).toBe(decodedOffset(record))
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 24, maxLength: 300 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (idBytes, other, raw, offset) => {
          // Any header, offsets past 2^53 - 1 included, and a well-formed record.
          expect(fileRecordOffset(raw)).toBe(decodedOffset(raw))
          const record = encodeFileRecord(idBytes, offset, raw)
          expect(fileRecordOffset(record)).toBe(offset)
          expect(sameFileId(record, idBytes)).toBe(true)
          expect(sameFileId(record, other)).toBe(hex(other) === hex(idBytes))
        }
      )
    )
  })

  it("digests as hex and back", () => {
    const d = new Uint8Array(32).map((_, i) => i * 7)
    expect(digestBytes(digestHex(d))).toEqual(d)
    expect(digestHex(d)).toBe(hex(d))
  })
})

describe("progress", () => {
  it("the meter follows the rate, restarts when bytes go back, and ignores same-instant samples", () => {
    let m = startMeter(0, 1000)
    expect(m.rate).toBe(0)
    m = updateMeter(m, 1_000_000, 2000)
    expect(m.rate).toBe(1_000_000)
    expect(updateMeter(m, 1_500_000, 2000)).toBe(m)
    for (let t = 3000; t <= 30_000; t += 1000) m = updateMeter(m, m.bytes + 2_000_000, t)
    expect(m.rate).toBeGreaterThan(1_990_000)
    expect(m.rate).toBeLessThanOrEqual(2_000_000)
    expect(updateMeter(m, 10, 31_000)).toEqual(startMeter(10, 31_000))
    expect(etaSeconds(500, 1500, 100)).toBe(10)
    expect(etaSeconds(500, 1500, 0)).toBeUndefined()
    expect(etaSeconds(1500, 1500, 0)).toBe(0)
  })

  it("formats bytes, durations and both kinds of line", () => {
    expect([0, 1023, 1024, 1536, 5 * 1024 ** 2, 3 * 1024 ** 3].map(formatBytes)).toEqual([
      "0 B",
      "1023 B",
      "1.0 KiB",
      "1.5 KiB",
      "5.0 MiB",
      "3.0 GiB"
    ])
    expect([undefined, 0, 7.2, 754, 3723].map(formatDuration)).toEqual(["--:--", "0:00", "0:08", "12:34", "1:02:03"])
    const view = { bytes: 5.5 * 1024 ** 2, total: 10 * 1024 ** 2, rate: 2.1 * 1024 ** 2, eta: 2.2, label: "notes.pdf" }
    expect(formatProgress({ ...view, tty: true, width: 20 })).toBe(
      "notes.pdf [###########.........]  55%  5.5 MiB / 10.0 MiB  2.1 MiB/s  ETA 0:03"
    )
    expect(formatProgress({ ...view, tty: false })).toBe("notes.pdf: 55% (5.5 MiB of 10.0 MiB) at 2.1 MiB/s, ETA 0:03")
    expect(formatProgress({ bytes: 0, total: 0, rate: 0, eta: undefined, tty: false })).toBe(
      "100% (0 B of 0 B) at -- B/s, ETA --:--"
    )
    expect(formatProgress({ bytes: 0, total: 100, rate: 0, eta: undefined, tty: true, width: 4 })).toBe(
      "[....]   0%  0 B / 100 B  -- B/s  ETA --:--"
    )
  })
})

describe("accept policy (issue 10, section 5)", () => {
  it("parses what a user writes", () => {
    expect(parseAcceptPolicy("always")).toEqual({ _tag: "Always" })
    expect(parseAcceptPolicy(" Never ")).toEqual({ _tag: "Never" })
    expect(parseAcceptPolicy("4GiB")).toEqual({ _tag: "UpTo", maxBytes: 4 * 1024 ** 3, from: "known" })
    expect(parseAcceptPolicy("anyone:1.5 m")).toEqual({ _tag: "UpTo", maxBytes: 1.5 * 1024 ** 2, from: "anyone" })
    expect(parseAcceptPolicy("known:100")).toEqual({ _tag: "UpTo", maxBytes: 100, from: "known" })
    expect(parseAcceptPolicy("lots")).toBeUndefined()
    expect(parseAcceptPolicy("friends:100")).toBeUndefined()
  })

  it("accepts from people written to or verified, and holds a stranger's file", () => {
    const policy = { _tag: "UpTo", maxBytes: 100, from: "known" } as const
    const stranger = { wroteTo: false, verified: false, size: 1, policy }
    expect(mayAutoAccept(stranger)).toBe(false)
    expect(mayAutoAccept({ ...stranger, wroteTo: true })).toBe(true)
    expect(mayAutoAccept({ ...stranger, verified: true })).toBe(true)
    expect(mayAutoAccept({ ...stranger, wroteTo: true, size: 101 })).toBe(false)
    expect(mayAutoAccept({ ...stranger, policy: { ...policy, from: "anyone" } })).toBe(true)
    expect(mayAutoAccept({ ...stranger, size: 2 ** 50, policy: { _tag: "Always" } })).toBe(true)
    expect(mayAutoAccept({ ...stranger, wroteTo: true, verified: true, policy: { _tag: "Never" } })).toBe(false)
  })

  it("caps unfinished and open transfers, and names what an offer cannot be", () => {
    const caps = { perPeer: 2, openPerPeer: 1, openTotal: 2 }
    expect(mayStoreOffer(caps, 1)).toBe(true)
    expect(mayStoreOffer(caps, 2)).toBe(false)
    expect(mayOpenTransfer(caps, { peer: 0, total: 1 })).toBe(true)
    expect(mayOpenTransfer(caps, { peer: 1, total: 1 })).toBe(false)
    expect(mayOpenTransfer(caps, { peer: 0, total: 2 })).toBe(false)
    expect(offerProblem({ size: 10n, chunk: 65_512 }, 65_512)).toBeUndefined()
    expect(offerProblem({ size: 10n, chunk: 65_513 }, 65_512)).toMatch(/chunk 65513 does not fit/)
    expect(offerProblem({ size: 2n ** 53n - 1n, chunk: 1 }, 65_512)).toBeUndefined()
    expect(offerProblem({ size: 2n ** 63n - 1n, chunk: 1 }, 65_512)).toMatch(/size 9223372036854775807 is beyond/)
  })
})
