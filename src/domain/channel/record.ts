/**
 * Record protection (brief section 5).
 *
 *   payload = AES-256-GCM(key, nonce, inner, aad = the 4-byte frame header)
 *   nonce   = iv XOR (0^4 || uint64 BE sequence)
 *   inner   = content || content-type byte   (0x01 XML document, 0x02 binary data chunk)
 *
 * One sequence counter per direction and key, starting at 0, 64 bits wide (bigint), advanced only
 * after a record authenticates. Failing to open is fatal (`bad_record_mac`).
 */
import type { Aead, AeadKey } from "../crypto/primitives.js"
import { HEADER_LENGTH } from "./framing.js"
import type { TrafficKeys } from "./keySchedule.js"

export const ContentType = { Xml: 0x01, Data: 0x02 } as const
export type ContentType = (typeof ContentType)[keyof typeof ContentType]

export const TAG_LENGTH = 16
/** Largest content in one record: 64 KiB (the frame limit leaves room for type byte and tag). */
export const MAX_CONTENT = 64 * 1024

const MAX_SEQUENCE = 2n ** 64n - 1n

/** One direction's protection under one key; replaced on KeyUpdate. */
export class RecordProtection {
  private readonly key: AeadKey
  private readonly iv: Uint8Array
  private readonly nonce = new Uint8Array(12)
  private readonly nonceView: DataView
  private seq = 0n

  constructor(aead: Aead, keys: TrafficKeys) {
    this.key = aead.importKey(keys.key)
    this.iv = keys.iv
    this.nonceView = new DataView(this.nonce.buffer)
  }

  /** Records protected (sealed or opened) under this key so far. */
  get sequence(): bigint {
    return this.seq
  }

  private nextNonce(): Uint8Array {
    if (this.seq >= MAX_SEQUENCE) throw new RangeError("record sequence number exhausted")
    this.nonce.set(this.iv)
    const low = this.nonceView.getBigUint64(4) ^ this.seq
    this.nonceView.setBigUint64(4, low)
    return this.nonce
  }

  /** The complete frame (header || sealed inner) carrying `content` of `type`. */
  seal(type: ContentType, content: Uint8Array): Uint8Array {
    if (content.length > MAX_CONTENT) throw new RangeError(`record content over ${MAX_CONTENT} bytes`)
    const inner = new Uint8Array(content.length + 1)
    inner.set(content)
    inner[content.length] = type
    const sealedLength = inner.length + TAG_LENGTH
    const header = new Uint8Array(HEADER_LENGTH)
    new DataView(header.buffer).setUint32(0, sealedLength)
    const sealed = this.key.seal(this.nextNonce(), inner, header)
    this.seq++
    const frame = new Uint8Array(HEADER_LENGTH + sealed.length)
    frame.set(header)
    frame.set(sealed, HEADER_LENGTH)
    return frame
  }

  /** Opens one frame payload; `null` when it does not authenticate or carries no valid type. */
  open(payload: Uint8Array): { readonly type: ContentType; readonly content: Uint8Array } | null {
    if (payload.length < TAG_LENGTH + 1) return null
    const header = new Uint8Array(HEADER_LENGTH)
    new DataView(header.buffer).setUint32(0, payload.length)
    const inner = this.key.open(this.nextNonce(), payload, header)
    if (inner === null || inner.length === 0) return null
    const type = inner[inner.length - 1]
    if (type !== ContentType.Xml && type !== ContentType.Data) return null
    this.seq++
    return { type, content: inner.subarray(0, inner.length - 1) }
  }
}
