/**
 * Key schedule (PROTOCOL.md §6): HKDF-SHA256 exactly as TLS 1.3 (RFC 8446 section 7.1) with the
 * label prefix "sixchat1 " in place of "tls13 ".
 *
 *            0
 *            |
 *   0 -> HKDF-Extract = Early Secret
 *            |
 *      Derive-Secret(., "derived", "")
 *            |
 *  ECDHE -> HKDF-Extract = Handshake Secret
 *            +-> Derive-Secret(., "i hs traffic", IHello..RHello)
 *            +-> Derive-Secret(., "r hs traffic", IHello..RHello)
 *      Derive-Secret(., "derived", "")
 *            |
 *   0 -> HKDF-Extract = Master Secret
 *            +-> Derive-Secret(., "i ap traffic", IHello..IFinished)
 *            +-> Derive-Secret(., "r ap traffic", IHello..IFinished)
 *            +-> Derive-Secret(., "exporter",     IHello..IFinished)
 */
import type { Hashing } from "../crypto/primitives.js"

const LABEL_PREFIX = "sixchat1 "
const HASH_LENGTH = 32
const KEY_LENGTH = 32
const IV_LENGTH = 12

const encoder = new TextEncoder()
const ZEROS = new Uint8Array(HASH_LENGTH)

/** The labels' bytes, "sixchat1 " included: a fixed set of constants, encoded once. */
const labelBytes = new Map<string, Uint8Array>()
/** The whole `HkdfLabel` of the labels used with an empty context ("key", "iv", "finished", ...). */
const emptyContextLabels = new Map<string, Uint8Array>()
const NO_CONTEXT = new Uint8Array(0)

/** `HkdfLabel` (RFC 8446 7.1): uint16 length || opaque label<7..255> || opaque context<0..255>. */
const hkdfLabel = (label: string, context: Uint8Array, length: number): Uint8Array => {
  // About 20 labels per handshake and side: built from cached parts, and the empty-context ones once
  // (issue 15; HKDF only reads them).
  const cacheable = context.length === 0
  const key = cacheable ? `${label}/${length}` : ""
  if (cacheable) {
    const cached = emptyContextLabels.get(key)
    if (cached !== undefined) return cached
  }
  let full = labelBytes.get(label)
  if (full === undefined) {
    full = encoder.encode(LABEL_PREFIX + label)
    if (full.length > 255) throw new RangeError("HKDF label or context too long")
    labelBytes.set(label, full)
  }
  if (context.length > 255) throw new RangeError("HKDF label or context too long")
  const out = new Uint8Array(2 + 1 + full.length + 1 + context.length)
  out[0] = (length >>> 8) & 0xff
  out[1] = length & 0xff
  out[2] = full.length
  out.set(full, 3)
  out[3 + full.length] = context.length
  out.set(context, 4 + full.length)
  if (cacheable) emptyContextLabels.set(key, out)
  return out
}

const hkdfExpandLabel = (
  h: Hashing,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number
): Uint8Array => h.hkdfExpand(secret, hkdfLabel(label, context, length), length)

const deriveSecret = (h: Hashing, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array =>
  hkdfExpandLabel(h, secret, label, transcriptHash, HASH_LENGTH)

export interface HandshakeSecrets {
  readonly initiator: Uint8Array
  readonly responder: Uint8Array
  readonly master: Uint8Array
}

/** From the X25519 shared secret and the hash of the two Hellos. */
/** Per provider: the empty-transcript hash and Derive-Secret(Early Secret, "derived", "") never change. */
const constants = new WeakMap<Hashing, { readonly emptyHash: Uint8Array; readonly earlyDerived: Uint8Array }>()
const constantsOf = (h: Hashing) => {
  let c = constants.get(h)
  if (c === undefined) {
    const emptyHash = h.sha256(new Uint8Array(0))
    c = { emptyHash, earlyDerived: deriveSecret(h, h.hkdfExtract(ZEROS, ZEROS), "derived", emptyHash) }
    constants.set(h, c)
  }
  return c
}

export const handshakeSecrets = (h: Hashing, shared: Uint8Array, hellosHash: Uint8Array): HandshakeSecrets => {
  const { emptyHash, earlyDerived } = constantsOf(h)
  const handshake = h.hkdfExtract(earlyDerived, shared)
  const master = h.hkdfExtract(deriveSecret(h, handshake, "derived", emptyHash), ZEROS)
  return {
    initiator: deriveSecret(h, handshake, "i hs traffic", hellosHash),
    responder: deriveSecret(h, handshake, "r hs traffic", hellosHash),
    master
  }
}

export interface ApplicationSecrets {
  readonly initiator: Uint8Array
  readonly responder: Uint8Array
  readonly exporter: Uint8Array
}

/** From the master secret and the hash of every handshake message through the initiator's Finished. */
export const applicationSecrets = (h: Hashing, master: Uint8Array, transcriptHash: Uint8Array): ApplicationSecrets => ({
  initiator: deriveSecret(h, master, "i ap traffic", transcriptHash),
  responder: deriveSecret(h, master, "r ap traffic", transcriptHash),
  exporter: deriveSecret(h, master, "exporter", transcriptHash)
})

export interface TrafficKeys {
  readonly key: Uint8Array
  readonly iv: Uint8Array
}

export const trafficKeys = (h: Hashing, secret: Uint8Array): TrafficKeys => ({
  key: hkdfExpandLabel(h, secret, "key", NO_CONTEXT, KEY_LENGTH),
  iv: hkdfExpandLabel(h, secret, "iv", NO_CONTEXT, IV_LENGTH)
})

/** The next traffic secret after a `<KeyUpdate/>` (PROTOCOL.md §9.4, §11.8). */
export const nextTrafficSecret = (h: Hashing, secret: Uint8Array): Uint8Array =>
  hkdfExpandLabel(h, secret, "traffic upd", NO_CONTEXT, HASH_LENGTH)

/** finished_key = HKDF-Expand-Label(sender's hs traffic secret, "finished", "", 32). */
const finishedKey = (h: Hashing, handshakeTrafficSecret: Uint8Array): Uint8Array =>
  hkdfExpandLabel(h, handshakeTrafficSecret, "finished", NO_CONTEXT, HASH_LENGTH)

/** Finished = HMAC-SHA256(finished_key, hash of every handshake message before this Finished). */
export const finishedMac = (h: Hashing, handshakeTrafficSecret: Uint8Array, transcriptHash: Uint8Array): Uint8Array =>
  h.hmacSha256(finishedKey(h, handshakeTrafficSecret), transcriptHash)

/**
 * The verification code two people compare out of band: 64 bits from the exporter secret reduced
 * to 12 decimal digits (about 40 bits), printed in three groups of four ("1234 5678 9012"). A man in
 * the middle must make two sessions' codes collide within one handshake timeout: ~2^40 X25519 + HKDF
 * trials in 10 s is out of reach (docs/DECISIONS.md).
 */
export const verificationCode = (h: Hashing, exporter: Uint8Array): string => {
  const bytes = hkdfExpandLabel(h, exporter, "verification code", NO_CONTEXT, 8)
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  const digits = (n % 10n ** 12n).toString().padStart(12, "0")
  return `${digits.slice(0, 4)} ${digits.slice(4, 8)} ${digits.slice(8, 12)}`
}

/** Constant-time comparison of two byte strings. */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}
