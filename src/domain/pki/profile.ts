/**
 * The certificate profile of a SixChat domain (PROTOCOL.md §13) as pure values and functions:
 * validity windows, serial numbers, key usage bits, names and name constraints. The pkijs code in
 * `layers/ca` turns these into DER.
 *
 * Hierarchy of a domain (decided here, documented in docs/PROTOCOL.md by the lead):
 *   root CA      offline key, 10 years, cA=TRUE pathLen 1, KU keyCertSign+cRLSign (critical),
 *                nameConstraints (critical) permitting rfc822Name `<domain>` and dNSName `<domain>`
 *                (plus any server name outside the domain), so a stolen issuing key cannot mint
 *                identities of another domain that a relying party trusting this root would accept;
 *   issuing CA   the IRP server's online key, 3 years, cA=TRUE pathLen 0, same KU;
 *   IRP server   CN = server name, SAN dNSName = server names (default `irp.<domain>` and `<domain>`;
 *                no `localhost`: it would violate the name constraints and names no one),
 *                EKU serverAuth, KU digitalSignature (critical), cA=FALSE;
 *   client       CN = handle, SAN rfc822Name = handle, EKU clientAuth only, KU digitalSignature
 *                (critical), cA=FALSE, 365 days by default.
 * Every certificate carries SKI (RFC 7093 method 1: SHA-256 of the public key bits, first 160 bits)
 * and, below the root, AKI; all are signed ecdsa-with-SHA256 with P-256 CA keys.
 */
import type { Handle } from "../brands.js"
import { hex as hexOf } from "../bytes.js"

export const ROOT_VALIDITY_DAYS = 3650
export const ISSUING_VALIDITY_DAYS = 1095
export const SERVER_VALIDITY_DAYS = 365
export const CLIENT_VALIDITY_DAYS = 365
/** notBefore is set this far before the issuing time so a peer whose clock runs a little slow accepts a fresh certificate. */
export const BACKDATE_SECONDS = 300
export const ROOT_PATH_LEN = 1
export const ISSUING_PATH_LEN = 0
/** Largest CSR we parse (an Enroll arrives in one pre-handshake frame of at most 16 KiB anyway). */
export const MAX_CSR_BYTES = 8192
/** Bytes of entropy in a serial number (CA/B baseline asks for at least 64 bits; RFC 5280 allows up to 20 octets). */
export const SERIAL_BYTES = 16

const DAY_MS = 86_400_000

// --- Keys ---

/** Subject key types a client certificate may carry. */
export type KeyAlgorithm = "ecdsa-p256" | "ecdsa-p384" | "ed25519"

export interface KeyPolicy {
  readonly accepted: ReadonlyArray<KeyAlgorithm>
}

/**
 * P-256 and Ed25519: the two CertificateVerify algorithms of the handshake (PROTOCOL.md §6).
 * P-384 verifies but no handshake can use it, so it is off by default; RSA is never accepted.
 */
export const defaultKeyPolicy: KeyPolicy = { accepted: ["ecdsa-p256", "ed25519"] }

// --- Validity (RFC 5280 section 4.1.2.5) ---

export interface Validity {
  readonly notBefore: Date
  readonly notAfter: Date
}

/** Whole seconds: GeneralizedTime must not carry fractions (RFC 5280 section 4.1.2.5.2). */
export const truncateToSecond = (date: Date): Date => new Date(Math.floor(date.getTime() / 1000) * 1000)

/**
 * `now - backdate` to `now + days`, never past `cap` (a certificate should not outlive its issuer).
 * Returns `undefined` when the window would be empty (the issuer has expired).
 */
export const validityWindow = (params: {
  readonly now: Date
  readonly days: number
  readonly cap?: Date | undefined
  readonly backdateSeconds?: number | undefined
}): Validity | undefined => {
  const now = truncateToSecond(params.now).getTime()
  const notBefore = new Date(now - (params.backdateSeconds ?? BACKDATE_SECONDS) * 1000)
  let notAfter = new Date(now + Math.round(params.days * DAY_MS))
  if (params.cap !== undefined && params.cap.getTime() < notAfter.getTime()) notAfter = truncateToSecond(params.cap)
  return notAfter.getTime() > notBefore.getTime() ? { notBefore, notAfter } : undefined
}

/** RFC 5280 section 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export const usesUtcTime = (date: Date): boolean => {
  const year = date.getUTCFullYear()
  return year >= 1950 && year <= 2049
}

/** Validity in days must be a positive whole number of at most 100 years. */
export const isValidityDays = (days: number): boolean => Number.isInteger(days) && days >= 1 && days <= 36_500

// --- Serial numbers (RFC 5280 section 4.1.2.2) ---

/**
 * A positive serial from `SERIAL_BYTES` random bytes: the top bit cleared (positive) and the first
 * octet non-zero (minimal DER), so it keeps at least 120 random bits.
 */
export const serialFromEntropy = (random: Uint8Array): Uint8Array => {
  if (random.length !== SERIAL_BYTES) throw new RangeError(`a serial needs exactly ${SERIAL_BYTES} random bytes`)
  const serial = Uint8Array.from(random)
  serial[0] = serial[0]! & 0x7f || 0x40
  return serial
}

/** The serial as a positive, minimal two's-complement INTEGER body; `undefined` when it is zero, negative or over 20 octets. */
export const normalizeSerial = (serial: Uint8Array): Uint8Array | undefined => {
  let start = 0
  while (start < serial.length - 1 && serial[start] === 0 && serial[start + 1]! < 0x80) start++
  const body = serial.subarray(start)
  if (body.length === 0 || body.length > 20 || (body[0]! & 0x80) !== 0) return undefined
  if (body.every((b) => b === 0)) return undefined
  return Uint8Array.from(body)
}

/** Lower-case hex without leading zeros (the form `VerifiedCertificate.serial` and the IRP use). */
export const serialHex = (serial: Uint8Array): string => {
  const hex = hexOf(serial).replace(/^0+/, "")
  return hex === "" ? "0" : hex
}

/** Bytes of a serial given in hex (`0x` prefix, colons and case tolerated); `undefined` when malformed. */
export const serialFromHex = (text: string): Uint8Array | undefined => {
  const hex = text.trim().replace(/^0x/i, "").replace(/:/g, "").toLowerCase()
  if (!/^[0-9a-f]{1,40}$/.test(hex)) return undefined
  const even = hex.length % 2 === 0 ? hex : `0${hex}`
  const bytes = new Uint8Array(Buffer.from(even, "hex"))
  // A serial whose first hex digit is 8-f is positive: it needs a leading zero octet in DER.
  return normalizeSerial((bytes[0]! & 0x80) !== 0 ? Uint8Array.of(0, ...bytes) : bytes)
}

// --- Key usage (RFC 5280 section 4.2.1.3) ---

export type KeyUsage = "digitalSignature" | "keyEncipherment" | "keyAgreement" | "keyCertSign" | "cRLSign"

const KEY_USAGE_BIT: Record<KeyUsage, number> = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6
}

/** DER named-bit-list encoding: bytes plus the count of unused trailing bits (trailing zero bits removed). */
export const keyUsageBits = (
  usages: ReadonlyArray<KeyUsage>
): { readonly bytes: Uint8Array; readonly unusedBits: number } => {
  const highest = Math.max(...usages.map((u) => KEY_USAGE_BIT[u]))
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1)
  for (const u of usages) {
    const bit = KEY_USAGE_BIT[u]
    bytes[bit >> 3] = bytes[bit >> 3]! | (0x80 >> (bit & 7))
  }
  return { bytes, unusedBits: 7 - (highest & 7) }
}

// --- Names ---

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/** A lower-case DNS name of at least two labels (`example.org`), as a domain or server name. */
export const isDomainName = (name: string): boolean => {
  if (name.length > 253) return false
  const labels = name.split(".")
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1]!)
}

/** `name` equals `domain` or is below it (DNS name constraint semantics, RFC 5280 section 4.2.1.10). */
const isWithinDomain = (name: string, domain: string): boolean => name === domain || name.endsWith(`.${domain}`)

/** The IRP server's default SAN dNSNames: `irp.<domain>` (its CN) and the bare domain. */
export const defaultServerNames = (domain: string): ReadonlyArray<string> => [`irp.${domain}`, domain]

export const rootCaName = (domain: string): string => `${domain} SixChat Root CA`
export const issuingCaName = (domain: string): string => `${domain} SixChat Issuing CA`

/** What the root permits: mailboxes at the domain, DNS names under it, and any server name outside it. */
export const permittedNames = (
  domain: string,
  serverNames: ReadonlyArray<string>
): { readonly rfc822: ReadonlyArray<string>; readonly dns: ReadonlyArray<string> } => ({
  rfc822: [domain],
  dns: [domain, ...serverNames.filter((n) => !isWithinDomain(n, domain))]
})

/** Whether a handle belongs to this domain (its certificates would otherwise break the root's name constraints). */
export const handleInDomain = (handle: Handle, domain: string): boolean =>
  handle.slice(handle.lastIndexOf("@") + 1) === domain
