/**
 * Record protection (PROTOCOL.md §11).
 *
 *   payload = AES-256-GCM(key, nonce, inner, aad = the 4-byte frame header)
 *   nonce   = iv XOR (0^4 || uint64 BE sequence)
 *   inner   = content || content-type byte   (0x01 XML document, 0x02 binary data chunk)
 *
 * One sequence counter per direction and key, starting at 0, 64 bits wide (bigint), advanced only
 * after a record authenticates. Failing to open is fatal (`bad_record_mac`); content over
 * `MAX_CONTENT` that does open is fatal too (`record_overflow`, checked by the receiver).
 */
import type { Aead, AeadKey } from "../crypto/primitives.js"
import { HEADER_LENGTH } from "./framing.js"
import type { TrafficKeys } from "./keySchedule.js"

export const ContentType = { Xml: 0x01, Data: 0x02 } as const
export type ContentType = (typeof ContentType)[keyof typeof ContentType]

export const TAG_LENGTH = 16
/** Largest content in one record: 64 KiB (the frame limit leaves room for type byte and tag). */
export const MAX_CONTENT = 64 * 1024

/**
 * A faster seal an AEAD key may offer (the node:crypto provider does): `prefix || AEAD(content || trailer,
 * aad = prefix)` in one fresh buffer. Building `inner` and then the frame costs two extra copies of every
 * record (two 64 KiB copies per bulk record); this writes the ciphertext once, behind the header.
 */
export interface PrefixedSealer {
  readonly sealPrefixed: (nonce: Uint8Array, prefix: Uint8Array, content: Uint8Array, trailer: number) => Uint8Array
  /**
   * The same frame as parts for a gathered write: `[prefix copy, AEAD(content), AEAD(trailer) || tag]`.
   * The ciphertext is the cipher's own output, not copied behind the prefix: for a data record that
   * is a 64 KiB copy and a fresh 64 KiB buffer fewer per record (issue 15).
   */
  readonly sealParts?: (
    nonce: Uint8Array,
    prefix: Uint8Array,
    content: Uint8Array,
    trailer: number
  ) => ReadonlyArray<Uint8Array>
}

/** Records with more content than this go out as parts (`sealParts`) where the AEAD offers it. */
export const GATHER_FROM = 2048

const hasPrefixedSeal = (key: AeadKey): key is AeadKey & PrefixedSealer =>
  typeof (key as Partial<PrefixedSealer>).sealPrefixed === "function"

/** One direction's protection under one key; replaced on KeyUpdate. */
export class RecordProtection {
  private readonly key: AeadKey
  private readonly prefixed: PrefixedSealer | undefined
  /** `iv` bytes 4..11 as two big-endian uint32 halves: the part the sequence number is XORed into. */
  private readonly ivHigh: number
  private readonly ivLow: number
  private readonly nonce = new Uint8Array(12)
  private readonly nonceView: DataView
  /** The frame header, reused: AEAD implementations copy the additional data before returning. */
  private readonly header = new Uint8Array(HEADER_LENGTH)
  private readonly headerView: DataView
  /**
   * The 64-bit sequence number as two exact uint32 halves (high * 2^32 + low): per-record arithmetic
   * on bigints allocated on every record, on the path of every message.
   */
  private seqHigh = 0
  private seqLow = 0

  constructor(aead: Aead, keys: TrafficKeys) {
    this.key = aead.importKey(keys.key)
    this.prefixed = hasPrefixedSeal(this.key) ? this.key : undefined
    this.nonce.set(keys.iv)
    this.nonceView = new DataView(this.nonce.buffer)
    this.ivHigh = this.nonceView.getUint32(4)
    this.ivLow = this.nonceView.getUint32(8)
    this.headerView = new DataView(this.header.buffer)
  }

  /** Records protected (sealed or opened) under this key so far. */
  get sequence(): bigint {
    return (BigInt(this.seqHigh) << 32n) | BigInt(this.seqLow)
  }

  /** `sequence` as a number: exact below 2^53, far above any rekey limit, and free of allocation. */
  get count(): number {
    return this.seqHigh * 2 ** 32 + this.seqLow
  }

  /** nonce = iv XOR (0^4 || uint64 BE sequence); the last sequence number, 2^64 - 1, is never used. */
  private nextNonce(): Uint8Array {
    if (this.seqHigh === 0xffffffff && this.seqLow === 0xffffffff)
      throw new RangeError("record sequence number exhausted")
    this.nonceView.setUint32(4, (this.ivHigh ^ this.seqHigh) >>> 0)
    this.nonceView.setUint32(8, (this.ivLow ^ this.seqLow) >>> 0)
    return this.nonce
  }

  private advance(): void {
    if (this.seqLow === 0xffffffff) {
      this.seqLow = 0
      this.seqHigh++
    } else this.seqLow++
  }

  /** The complete frame (header || sealed inner) carrying `content` of `type`. */
  seal(type: ContentType, content: Uint8Array): Uint8Array {
    if (content.length > MAX_CONTENT) throw new RangeError(`record content over ${MAX_CONTENT} bytes`)
    const header = this.header
    this.headerView.setUint32(0, content.length + 1 + TAG_LENGTH)
    if (this.prefixed !== undefined) {
      const frame = this.prefixed.sealPrefixed(this.nextNonce(), header, content, type)
      this.advance()
      return frame
    }
    const inner = new Uint8Array(content.length + 1)
    inner.set(content)
    inner[content.length] = type
    const sealed = this.key.seal(this.nextNonce(), inner, header)
    this.advance()
    const frame = new Uint8Array(HEADER_LENGTH + sealed.length)
    frame.set(header)
    frame.set(sealed, HEADER_LENGTH)
    return frame
  }

  /**
   * The same frame as `seal`, for a transport that takes parts (`OutBytes`): large records as
   * `[header, ciphertext, tag]` without copying the ciphertext into one buffer, where the AEAD can.
   */
  sealForWrite(type: ContentType, content: Uint8Array): Uint8Array | ReadonlyArray<Uint8Array> {
    const prefixed = this.prefixed
    if (prefixed?.sealParts === undefined || content.length <= GATHER_FROM) return this.seal(type, content)
    if (content.length > MAX_CONTENT) throw new RangeError(`record content over ${MAX_CONTENT} bytes`)
    this.headerView.setUint32(0, content.length + 1 + TAG_LENGTH)
    const frame = prefixed.sealParts(this.nextNonce(), this.header, content, type)
    this.advance()
    return frame
  }

  /** Opens one frame payload; `null` when it does not authenticate or carries no valid type. */
  open(payload: Uint8Array): { readonly type: ContentType; readonly content: Uint8Array } | null {
    if (payload.length < TAG_LENGTH + 1) return null
    this.headerView.setUint32(0, payload.length)
    const inner = this.key.open(this.nextNonce(), payload, this.header)
    if (inner === null || inner.length === 0) return null
    // Content over MAX_CONTENT authenticates and is returned: the receiver refuses it with
    // `record_overflow` (PROTOCOL.md §11.6, as RFC 8446 §5.4), not as a record that fails to open.
    const type = inner[inner.length - 1]
    if (type !== ContentType.Xml && type !== ContentType.Data) return null
    this.advance()
    return { type, content: inner.subarray(0, inner.length - 1) }
  }
}
