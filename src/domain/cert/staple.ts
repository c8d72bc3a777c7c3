/**
 * The stapled certificate status (PROTOCOL.md §13.6.1): the issuing CA of a domain signs "serial S of
 * handle H, issued by the CA whose key hashes to I, is good from T0 until T1", T1 at most a few
 * minutes after T0, like an OCSP response (RFC 6960) but minimal. Pure: the signature check is passed
 * in (`verify`), the time too.
 *
 *     staple = uint16 tbs-length || tbs || signature
 *     tbs    = "SixChat-Status/1\n" "serial=" S "\n" "handle=" H "\n" "status=good\n"
 *              "issuer=" I "\n" "thisUpdate=" T0 "\n" "nextUpdate=" T1 "\n"
 *
 * S is lower-case hex without leading zeros, I the SHA-256 of the issuing CA's SubjectPublicKeyInfo
 * (lower-case hex, as a fingerprint), T0 and T1 epoch milliseconds in decimal; the signature is
 * ECDSA P-256 with SHA-256 by the issuing CA's key over the tbs bytes, raw `r || s` (64 bytes).
 */
import { concatBytes } from "../bytes.js"

const MAGIC = "SixChat-Status/1"
/** A staple claiming a longer life is refused (§13.6.1): the whole point is a short one. */
export const MAX_STAPLE_LIFETIME_MS = 10 * 60_000
/** Default life of a staple the IRP signs (`irp.json` `stapleLifetimeSeconds`). */
export const DEFAULT_STAPLE_LIFETIME_SECONDS = 300
/** Clocks may disagree this much about `thisUpdate` (a staple "from the future"). */
export const STAPLE_CLOCK_SKEW_MS = 60_000
/** Upper bound on a staple's bytes on the wire (e2e.xsd `StatusBytes`). */
const MAX_STAPLE_BYTES = 1024
const SIGNATURE_BYTES = 64

export interface StapleFields {
  readonly serial: string
  readonly handle: string
  /** SHA-256 of the issuing CA's SPKI, lower-case hex. */
  readonly issuer: string
  readonly thisUpdate: number
  readonly nextUpdate: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** The bytes the issuing CA signs. */
export const stapleToBeSigned = (f: StapleFields): Uint8Array =>
  encoder.encode(
    `${MAGIC}\nserial=${f.serial}\nhandle=${f.handle}\nstatus=good\nissuer=${f.issuer}\nthisUpdate=${f.thisUpdate}\nnextUpdate=${f.nextUpdate}\n`
  )

export const encodeStaple = (tbs: Uint8Array, signature: Uint8Array): Uint8Array =>
  concatBytes([Uint8Array.of(tbs.length >> 8, tbs.length & 0xff), tbs, signature])

export interface ParsedStaple {
  readonly fields: StapleFields
  readonly tbs: Uint8Array
  readonly signature: Uint8Array
}

const LINE =
  /^SixChat-Status\/1\nserial=([0-9a-f]{1,64})\nhandle=([^\n]{3,254})\nstatus=good\nissuer=([0-9a-f]{64})\nthisUpdate=(\d{1,15})\nnextUpdate=(\d{1,15})\n$/

/** The staple's parts, or `undefined` when it is not one (wrong length, wrong text, bad numbers). */
export const parseStaple = (bytes: Uint8Array): ParsedStaple | undefined => {
  if (bytes.length < 2 || bytes.length > MAX_STAPLE_BYTES) return undefined
  const length = (bytes[0]! << 8) | bytes[1]!
  if (bytes.length !== 2 + length + SIGNATURE_BYTES) return undefined
  const tbs = bytes.subarray(2, 2 + length)
  let text: string
  try {
    text = decoder.decode(tbs)
  } catch {
    return undefined
  }
  const m = LINE.exec(text)
  if (m === null || (m[1]!.startsWith("0") && m[1] !== "0")) return undefined
  const thisUpdate = Number(m[4])
  const nextUpdate = Number(m[5])
  if (!Number.isSafeInteger(thisUpdate) || !Number.isSafeInteger(nextUpdate)) return undefined
  return {
    fields: { serial: m[1]!, handle: m[2]!, issuer: m[3]!, thisUpdate, nextUpdate },
    tbs,
    signature: bytes.subarray(2 + length)
  }
}

export type StapleVerdict =
  | { readonly _tag: "Valid"; readonly fields: StapleFields }
  | {
      readonly _tag: "Invalid"
      readonly reason: "Malformed" | "BadSignature" | "OtherCertificate" | "Expired" | "NotYetValid" | "TooLong"
      readonly message: string
    }

export interface StapleCheck {
  /** The peer's verified leaf: its serial (lower-case hex) and handle. */
  readonly serial: string
  readonly handle: string
  /** SHA-256 hex of the SPKI of the CA that issued the leaf in the verified path. */
  readonly issuer: string
  /** Verifies `signature` over `tbs` with that CA's key (ECDSA P-256, SHA-256, raw r||s). */
  readonly verify: (tbs: Uint8Array, signature: Uint8Array) => boolean
  readonly now: number
}

const invalid = (reason: Extract<StapleVerdict, { _tag: "Invalid" }>["reason"], message: string): StapleVerdict => ({
  _tag: "Invalid",
  reason,
  message
})

/** PROTOCOL.md §13.6.2: what makes a stapled status valid for one verified certificate at `now`. */
export const checkStaple = (bytes: Uint8Array, c: StapleCheck): StapleVerdict => {
  const parsed = parseStaple(bytes)
  if (parsed === undefined) return invalid("Malformed", "the stapled status is not a SixChat status")
  const f = parsed.fields
  if (f.serial !== c.serial || f.handle !== c.handle.toLowerCase() || f.issuer !== c.issuer)
    return invalid("OtherCertificate", `the stapled status is for another certificate (serial ${f.serial})`)
  if (f.nextUpdate <= f.thisUpdate || f.nextUpdate - f.thisUpdate > MAX_STAPLE_LIFETIME_MS)
    return invalid("TooLong", "the stapled status claims a lifetime longer than 10 minutes")
  if (!c.verify(parsed.tbs, parsed.signature))
    return invalid("BadSignature", "the stapled status is not signed by the certificate's issuing CA")
  if (f.thisUpdate > c.now + STAPLE_CLOCK_SKEW_MS)
    return invalid("NotYetValid", "the stapled status is from the future")
  if (c.now >= f.nextUpdate) return invalid("Expired", "the stapled status has expired")
  return { _tag: "Valid", fields: f }
}
