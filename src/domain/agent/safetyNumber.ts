/**
 * Safety numbers (PROTOCOL.md section 10.1): one stable number per pair of people, derived from both
 * identity keys, the same on both sides, changing only when either key changes. Modelled on Signal's
 * numeric fingerprints (libsignal `NumericFingerprintGenerator`): per side, iterated SHA-512 over
 * `version || key || handle`, 30 digits from the first 30 bytes; the two halves sorted and joined,
 * shown as 12 groups of 5 digits. Pure: the keys come in as bytes.
 */
import { sha512 } from "@noble/hashes/sha2.js"
import { concatBytes } from "../bytes.js"

/** Version of the derivation (a 2-byte big-endian prefix of the first hash input). */
const SAFETY_NUMBER_VERSION = 1
/** SHA-512 iterations per side (Signal's value: a brute-force search for a colliding key costs 5200 hashes a try). */
export const SAFETY_NUMBER_ITERATIONS = 5200
/** What a QR code of the number carries: this prefix, then the 60 digits. */
const SAFETY_NUMBER_QR_PREFIX = "SIXCHAT-SN1:"

/** One person's identity: the leaf certificate's SubjectPublicKeyInfo DER and their handle. */
export interface SafetyIdentity {
  readonly spki: Uint8Array
  readonly handle: string
}

const encoder = new TextEncoder()

const concat = concatBytes

/** Five bytes as a big-endian 40-bit integer, mod 100000, as 5 digits. */
const chunkDigits = (bytes: Uint8Array, offset: number): string => {
  let n = 0
  for (let i = 0; i < 5; i++) n = n * 256 + (bytes[offset + i] ?? 0)
  return String(n % 100000).padStart(5, "0")
}

/** SHA-512 of one byte string (the pure @noble/hashes one by default; a layer may pass a native one). */
export type Sha512 = (data: Uint8Array) => Uint8Array

/**
 * One side's 30 digits: `d = SHA-512(version16 || spki || handle)`, then `iterations - 1` times
 * `d = SHA-512(d || spki)`; the first 30 bytes of `d` as six 5-byte chunks, each mod 100000.
 * The handle is lower-cased (handles compare case-insensitively).
 */
export const safetyHalf = (
  identity: SafetyIdentity,
  hash: Sha512 = sha512,
  iterations: number = SAFETY_NUMBER_ITERATIONS
): string => {
  const version = new Uint8Array([(SAFETY_NUMBER_VERSION >> 8) & 0xff, SAFETY_NUMBER_VERSION & 0xff])
  let digest = hash(concat([version, identity.spki, encoder.encode(identity.handle.toLowerCase())]))
  for (let i = 1; i < iterations; i++) digest = hash(concat([digest, identity.spki]))
  let digits = ""
  for (let chunk = 0; chunk < 6; chunk++) digits += chunkDigits(digest, chunk * 5)
  return digits
}

/** The 60-digit safety number of two halves: the smaller (as a string) first, so both sides agree. */
export const combineHalves = (a: string, b: string): string => (a <= b ? a + b : b + a)

/** The 60-digit safety number of two people (order-independent). */
export const safetyNumber = (a: SafetyIdentity, b: SafetyIdentity): string =>
  combineHalves(safetyHalf(a), safetyHalf(b))

/** 60 digits as 12 groups of 5, separated by single spaces. */
export const groupSafetyNumber = (digits: string): string => (digits.match(/.{1,5}/g) ?? []).join(" ")

/** The text a QR code of the number carries (section 10.1). */
export const safetyNumberQrText = (digits: string): string => `${SAFETY_NUMBER_QR_PREFIX}${digits}`
