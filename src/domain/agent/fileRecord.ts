/**
 * The binary data record of a file transfer (PROTOCOL.md §15: "binary data records (`file id ||
 * uint64 offset || bytes`)"; docs/PROTOCOL.md 5.4.4 and 5.4.6):
 *
 *     record = file-id[16] || uint64 big-endian offset || bytes
 *
 * `file-id` is the 128-bit value of the offer's identifier (a ULID's 26 Crockford base32 characters,
 * or a UUIDv7's 32 hex digits). A record carries at most 65 536 bytes of content, so at most 65 512
 * file bytes. Pure; decoding returns views into the record (no copy: this is the per-record path).
 */
import { Either } from "effect"
import type { Id, Ulid } from "../brands.js"
import { hex } from "../bytes.js"

const FILE_ID_BYTES = 16
/** 16-byte id + 8-byte offset (5.4.4). */
export const FILE_RECORD_HEADER_BYTES = 24
/** Content bytes one record may carry (5.4.6, section 11.6). */
const MAX_RECORD_CONTENT_BYTES = 65_536
/** The largest `chunk` a sender may offer and a receiver accepts (5.4.6). */
export const MAX_FILE_CHUNK = MAX_RECORD_CONTENT_BYTES - FILE_RECORD_HEADER_BYTES

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
const CROCKFORD_VALUE: ReadonlyMap<string, number> = new Map([...CROCKFORD].map((c, i) => [c, i] as const))

/** The 16 bytes of an identifier (5.4.4): a ULID's 128-bit value, or a UUID's bytes. */
export const fileIdBytes = (id: Id): Uint8Array => {
  const out = new Uint8Array(FILE_ID_BYTES)
  if (id.length === 36) {
    const hex = id.replaceAll("-", "")
    for (let i = 0; i < FILE_ID_BYTES; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
    return out
  }
  // A ULID: 26 characters x 5 bits = 130 bits, of which the first character's top 2 are zero.
  let value = 0n
  for (const c of id) value = (value << 5n) | BigInt(CROCKFORD_VALUE.get(c) ?? 0)
  for (let i = FILE_ID_BYTES - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn)
    value >>= 8n
  }
  return out
}

/** A 128-bit id rendered as a ULID (every 128-bit value is one). */
export const ulidFromFileIdBytes = (bytes: Uint8Array): Ulid => {
  let value = 0n
  for (let i = 0; i < FILE_ID_BYTES; i++) value = (value << 8n) | BigInt(bytes[i] ?? 0)
  let out = ""
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(value & 31n)]! + out
    value >>= 5n
  }
  return out as Ulid
}

/** Lower-case hex of the 16 id bytes at `at`: a map key for the per-record lookup. */
export const fileIdKey = (bytes: Uint8Array, at = 0): string => {
  return hex(bytes, at, at + FILE_ID_BYTES)
}

/**
 * Writes the 24-byte header into `target[0..24)`; the caller puts the file bytes after it, so one
 * fixed buffer serves every record of a transfer. `offset` must be a safe integer.
 */
export const writeFileRecordHeader = (target: Uint8Array, idBytes: Uint8Array, offset: number): void => {
  target.set(idBytes.subarray(0, FILE_ID_BYTES), 0)
  const view = new DataView(target.buffer, target.byteOffset, FILE_RECORD_HEADER_BYTES)
  view.setUint32(16, Math.floor(offset / 2 ** 32))
  view.setUint32(20, offset >>> 0)
}

/** A whole record (tests and simple senders; the streaming sender uses `writeFileRecordHeader`). */
export const encodeFileRecord = (idBytes: Uint8Array, offset: number, bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(FILE_RECORD_HEADER_BYTES + bytes.length)
  writeFileRecordHeader(out, idBytes, offset)
  out.set(bytes, FILE_RECORD_HEADER_BYTES)
  return out
}

export interface FileRecord {
  /** `fileIdKey` of the id. */
  readonly idKey: string
  /** Views into the record. */
  readonly idBytes: Uint8Array
  readonly offset: number
  readonly bytes: Uint8Array
}

/**
 * Splits a data record. Refused: shorter than the header, longer than a record's content, or an
 * offset beyond 2^53 - 1 (no file here is that large; the store counts bytes as JS numbers).
 */
export const decodeFileRecord = (record: Uint8Array): Either.Either<FileRecord, string> => {
  if (record.length < FILE_RECORD_HEADER_BYTES)
    return Either.left(`a data record of ${record.length} bytes is shorter than its 24-byte header`)
  if (record.length > MAX_RECORD_CONTENT_BYTES)
    return Either.left(`a data record of ${record.length} bytes is longer than ${MAX_RECORD_CONTENT_BYTES}`)
  const view = new DataView(record.buffer, record.byteOffset, FILE_RECORD_HEADER_BYTES)
  const high = view.getUint32(16)
  if (high >= 2 ** 21) return Either.left("a data record's offset is beyond 2^53 - 1")
  return Either.right({
    idKey: fileIdKey(record),
    idBytes: record.subarray(0, FILE_ID_BYTES),
    offset: high * 2 ** 32 + view.getUint32(20),
    bytes: record.subarray(FILE_RECORD_HEADER_BYTES)
  })
}

/**
 * The offset of a well-formed data record (the checks of `decodeFileRecord`), or `undefined`: the
 * receiver's per-record fast path, which knows the transfer already (`sameFileId`) and needs no views.
 */
export const fileRecordOffset = (record: Uint8Array): number | undefined => {
  if (record.length < FILE_RECORD_HEADER_BYTES || record.length > MAX_RECORD_CONTENT_BYTES) return undefined
  const view = new DataView(record.buffer, record.byteOffset, FILE_RECORD_HEADER_BYTES)
  const high = view.getUint32(16)
  return high >= 2 ** 21 ? undefined : high * 2 ** 32 + view.getUint32(20)
}

/** Whether `record` (at least 16 bytes) starts with the 16 id bytes `idBytes`. */
export const sameFileId = (record: Uint8Array, idBytes: Uint8Array): boolean => {
  for (let i = 0; i < FILE_ID_BYTES; i++) if (record[i] !== idBytes[i]) return false
  return true
}

/** 64 lower-case hex digits of a 32-byte digest, and back (the wire carries bytes, the store hex). */
export const digestHex = (bytes: Uint8Array): string => hex(bytes)
export const digestBytes = (hex: string): Uint8Array => {
  const out = new Uint8Array(hex.length >>> 1)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}
