/**
 * One-time enrolment tokens (`sixchat irp token`, IRP issue section 1). Pure: the random bytes
 * come from `Entropy`; storage keeps only the digest, so a leaked database cannot enrol anyone.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Schema } from "effect"
import { hex } from "../bytes.js"

export const ENROLLMENT_TOKEN_BYTES = 32

/** `sxe1-` then 43 base64url characters (256 bits): copy-paste safe, no padding, no shell metacharacters. */
export const EnrollmentToken = Schema.String.pipe(
  Schema.pattern(/^sxe1-[A-Za-z0-9_-]{43}$/),
  Schema.brand("EnrollmentToken")
)
export type EnrollmentToken = typeof EnrollmentToken.Type

export const formatEnrollmentToken = (random: Uint8Array): EnrollmentToken => {
  if (random.length !== ENROLLMENT_TOKEN_BYTES) throw new RangeError(`a token needs ${ENROLLMENT_TOKEN_BYTES} bytes`)
  return `sxe1-${Buffer.from(random).toString("base64url")}` as EnrollmentToken
}

/** SHA-256 of the token text, lower-case hex: the value the registry stores and looks up. */
export const enrollmentTokenDigest = (token: EnrollmentToken): string => hex(sha256(new TextEncoder().encode(token)))
