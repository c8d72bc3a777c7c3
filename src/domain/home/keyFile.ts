/**
 * SixChat's own passphrase-protected key file (docs/KEYS.md), in the spirit of OpenSSH's and age's
 * formats: a PEM block labelled `SIXCHAT ENCRYPTED PRIVATE KEY` whose body is a fixed 44-byte header
 * followed by AES-256-GCM(scrypt(passphrase), PKCS#8 DER), the header being the additional data.
 * Pure: this module lays out and checks bytes; the caller derives the key and runs the AEAD.
 *
 * Every bound is checked while decoding, before anything is derived: the scrypt parameters come from
 * the file, and a hostile file must not make us allocate gigabytes or spin for minutes.
 */
import { Data, Either } from "effect"
import { concatBytes } from "../bytes.js"

export const KEY_FILE_LABEL = "SIXCHAT ENCRYPTED PRIVATE KEY"

/** "SXKF": SixChat key file. */
const MAGIC = [0x53, 0x58, 0x4b, 0x46] as const
const KEY_FILE_VERSION = 1
/** The only KDF of version 1. */
const KDF_SCRYPT = 1
/** The only AEAD of version 1. */
const AEAD_AES_256_GCM = 1

export const SALT_BYTES = 16
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
export const KEY_BYTES = 32
/** magic 4, version 1, kdf 1, aead 1, log2N 1, r 4, p 4, salt 16, nonce 12. */
export const HEADER_BYTES = 4 + 1 + 1 + 1 + 1 + 4 + 4 + SALT_BYTES + NONCE_BYTES
/** The largest PKCS#8 we seal: an RSA-8192 key is about 4.8 KB, our P-256 keys 138 bytes. */
const MAX_PLAINTEXT_BYTES = 16 * 1024

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  readonly log2N: number
  /** Block size. */
  readonly r: number
  /** Parallelism. */
  readonly p: number
}

/** What `sixchat id new --protect` and `id passphrase` use: 128 MiB, a fraction of a second. */
export const DEFAULT_SCRYPT: ScryptParams = { log2N: 17, r: 8, p: 1 }

/**
 * What we accept, on write and on read. Below the minimums (RFC 7914 section 2's interactive-login
 * example is N = 2^14, r = 8) a stolen file is cheap to brute-force; above the maximums a file could
 * make us run for minutes or allocate more than 1 GiB. With r = 8 the memory bound caps N at 2^20.
 */
const SCRYPT_BOUNDS = {
  log2N: { min: 14, max: 22 },
  r: { min: 8, max: 32 },
  p: { min: 1, max: 4 },
  maxMemoryBytes: 1024 * 1024 * 1024
} as const

export type KeyFileFailure =
  | "Format" // not a SixChat key file, or a field of the wrong size
  | "Version" // a version, KDF or AEAD this release does not know
  | "TooWeak" // scrypt parameters below the minimums
  | "TooCostly" // scrypt parameters above the maximums
  | "Authentication" // wrong passphrase, or the file was changed

export class KeyFileError extends Data.TaggedError("KeyFileError")<{
  readonly reason: KeyFileFailure
  /** Says what is wrong with the file; the caller names the file and says what to do. */
  readonly message: string
}> {}

const fail = (reason: KeyFileFailure, message: string) => Either.left(new KeyFileError({ reason, message }))

/** The memory scrypt's V array takes: 128 · r · N bytes (RFC 7914 section 5). */
export const scryptMemory = (params: ScryptParams): number => 128 * params.r * 2 ** params.log2N

/**
 * The `maxmem` to give OpenSSL's scrypt: its own estimate, 128 · r · (N + 2) for V plus 128 · r · p for
 * B. Set exactly, so that OpenSSL refuses anything beyond what we checked.
 */
export const scryptMaxmem = (params: ScryptParams): number =>
  128 * params.r * (2 ** params.log2N + 2) + 128 * params.r * params.p

const within = (value: number, bound: { readonly min: number; readonly max: number }) =>
  Number.isInteger(value) && value >= bound.min && value <= bound.max

/** The parameters when they are inside `SCRYPT_BOUNDS`, else why not. */
export const checkScryptParams = (params: ScryptParams): Either.Either<ScryptParams, KeyFileError> => {
  const { log2N, r, p } = params
  const shown = `scrypt N = 2^${log2N}, r = ${r}, p = ${p}`
  if (![log2N, r, p].every(Number.isInteger)) return fail("Format", `${shown} are not whole numbers`)
  if (log2N > SCRYPT_BOUNDS.log2N.max || r > SCRYPT_BOUNDS.r.max || p > SCRYPT_BOUNDS.p.max)
    return fail("TooCostly", `${shown} is more work than we accept (at most N = 2^22, r = 32, p = 4)`)
  if (scryptMemory(params) > SCRYPT_BOUNDS.maxMemoryBytes)
    return fail("TooCostly", `${shown} needs ${scryptMemory(params) / 2 ** 20} MiB (we allow at most 1024 MiB)`)
  if (!within(log2N, SCRYPT_BOUNDS.log2N) || !within(r, SCRYPT_BOUNDS.r) || !within(p, SCRYPT_BOUNDS.p))
    return fail("TooWeak", `${shown} is too cheap to resist guessing (at least N = 2^14, r = 8, p = 1)`)
  return Either.right(params)
}

/** The header, which is also the AEAD's additional data: everything before the ciphertext. */
export interface KeyFileHeader {
  readonly params: ScryptParams
  readonly salt: Uint8Array
  readonly nonce: Uint8Array
}

export interface SealedKeyFile extends KeyFileHeader {
  /** The header's bytes as they appear in the file. */
  readonly header: Uint8Array
  /** AES-256-GCM ciphertext of the PKCS#8 DER, followed by its 16-byte tag. */
  readonly sealed: Uint8Array
}

/** The 44 header bytes for fresh parameters, salt and nonce (checked like a file we read). */
export const encodeHeader = (h: KeyFileHeader): Either.Either<Uint8Array, KeyFileError> =>
  Either.flatMap(checkScryptParams(h.params), (params) => {
    if (h.salt.length !== SALT_BYTES || h.nonce.length !== NONCE_BYTES)
      return fail("Format", `the salt must be ${SALT_BYTES} bytes and the nonce ${NONCE_BYTES}`)
    const out = new Uint8Array(HEADER_BYTES)
    const view = new DataView(out.buffer)
    out.set(MAGIC, 0)
    out[4] = KEY_FILE_VERSION
    out[5] = KDF_SCRYPT
    out[6] = AEAD_AES_256_GCM
    out[7] = params.log2N
    view.setUint32(8, params.r)
    view.setUint32(12, params.p)
    out.set(h.salt, 16)
    out.set(h.nonce, 16 + SALT_BYTES)
    return Either.right(out)
  })

/** The PEM body: header then sealed key. */
export const encodeKeyFile = (header: Uint8Array, sealed: Uint8Array): Uint8Array => concatBytes([header, sealed])

/** Reads and checks a PEM body; nothing here depends on the passphrase. */
export const decodeKeyFile = (body: Uint8Array): Either.Either<SealedKeyFile, KeyFileError> => {
  if (body.length < HEADER_BYTES || MAGIC.some((byte, i) => body[i] !== byte))
    return fail("Format", "it is not a SixChat key file (bad magic or too short)")
  if (body[4] !== KEY_FILE_VERSION)
    return fail("Version", `it is version ${body[4]}, this sixchat reads version ${KEY_FILE_VERSION}`)
  if (body[5] !== KDF_SCRYPT || body[6] !== AEAD_AES_256_GCM)
    return fail(
      "Version",
      `it uses KDF ${body[5]} and cipher ${body[6]}, this sixchat knows only scrypt and AES-256-GCM`
    )
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const params = { log2N: body[7]!, r: view.getUint32(8), p: view.getUint32(12) }
  const sealedLength = body.length - HEADER_BYTES
  if (sealedLength <= TAG_BYTES || sealedLength > MAX_PLAINTEXT_BYTES + TAG_BYTES)
    return fail("Format", `its ciphertext is ${sealedLength} bytes (a key is 17 to ${MAX_PLAINTEXT_BYTES + TAG_BYTES})`)
  return Either.map(checkScryptParams(params), (checked) => ({
    params: checked,
    salt: body.slice(16, 16 + SALT_BYTES),
    nonce: body.slice(16 + SALT_BYTES, HEADER_BYTES),
    header: body.slice(0, HEADER_BYTES),
    sealed: body.slice(HEADER_BYTES)
  }))
}

/** The passphrase as the KDF takes it: Unicode NFC, then UTF-8, so the same typed text always matches. */
export const passphraseBytes = (passphrase: string): Uint8Array => new TextEncoder().encode(passphrase.normalize("NFC"))
