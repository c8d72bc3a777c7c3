/**
 * The crypto and file glue around `domain/home/keyFile.ts` (docs/KEYS.md): scrypt and AES-256-GCM from
 * node:crypto seal and open a PKCS#8 key, and key files are replaced atomically with mode 0600.
 *
 * The KDF is a parameter so tests can prove that a hostile file is refused before any derivation.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Config, Effect, Option, Redacted } from "effect"
import {
  checkScryptParams,
  DEFAULT_SCRYPT,
  encodeHeader,
  encodeKeyFile,
  KEY_BYTES,
  KEY_FILE_LABEL,
  KeyFileError,
  NONCE_BYTES,
  passphraseBytes,
  SALT_BYTES,
  type ScryptParams,
  type SealedKeyFile,
  scryptMaxmem,
  TAG_BYTES
} from "../domain/home/keyFile.js"
import { pemEncode } from "../domain/pem.js"
import { CliFailure, ExitCode, usage } from "./failure.js"

/** Derives the 32-byte AES key; fails only when the KDF itself fails. */
export type KeyFileKdf = (
  passphrase: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams
) => Effect.Effect<Uint8Array, KeyFileError>

/**
 * scrypt from OpenSSL on libuv's thread pool (the event loop stays free). `maxmem` is set to exactly
 * what the checked parameters need: Node's 32 MiB default would refuse our N = 2^17, and no larger
 * value is ever needed.
 */
export const nodeScrypt: KeyFileKdf = (passphrase, salt, params) =>
  Effect.async<Uint8Array, KeyFileError>((resume) => {
    scrypt(
      passphrase,
      salt,
      KEY_BYTES,
      { N: 2 ** params.log2N, r: params.r, p: params.p, maxmem: scryptMaxmem(params) },
      (err, key) =>
        resume(
          err === null
            ? Effect.succeed(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))
            : Effect.fail(new KeyFileError({ reason: "TooCostly", message: `scrypt refused: ${err.message}` }))
        )
    )
  })

/** Seals a PKCS#8 DER under a passphrase: the PEM text of a `SIXCHAT ENCRYPTED PRIVATE KEY`. */
export const sealKey = (params: {
  readonly pkcs8: Uint8Array
  readonly passphrase: Redacted.Redacted<string>
  readonly scrypt: ScryptParams
  readonly random?: (length: number) => Uint8Array
  readonly kdf?: KeyFileKdf
}): Effect.Effect<string, KeyFileError> =>
  Effect.gen(function* () {
    const random = params.random ?? ((n: number) => new Uint8Array(randomBytes(n)))
    const salt = random(SALT_BYTES)
    const nonce = random(NONCE_BYTES)
    const header = yield* encodeHeader({ params: params.scrypt, salt, nonce })
    const key = yield* (params.kdf ?? nodeScrypt)(
      passphraseBytes(Redacted.value(params.passphrase)),
      salt,
      params.scrypt
    )
    try {
      const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES })
      cipher.setAAD(header)
      const sealed = Buffer.concat([cipher.update(params.pkcs8), cipher.final(), cipher.getAuthTag()])
      return pemEncode(KEY_FILE_LABEL, encodeKeyFile(header, sealed))
    } finally {
      key.fill(0)
    }
  })

/** Opens a decoded key file (see `decodeKeyFile`): the PKCS#8 DER, or `Authentication`. */
export const openKey = (
  file: SealedKeyFile,
  passphrase: Redacted.Redacted<string>,
  kdf: KeyFileKdf = nodeScrypt
): Effect.Effect<Uint8Array, KeyFileError> =>
  Effect.gen(function* () {
    const key = yield* kdf(passphraseBytes(Redacted.value(passphrase)), file.salt, file.params)
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, file.nonce, { authTagLength: TAG_BYTES })
      decipher.setAAD(file.header)
      decipher.setAuthTag(file.sealed.subarray(file.sealed.length - TAG_BYTES))
      const plain = decipher.update(file.sealed.subarray(0, file.sealed.length - TAG_BYTES))
      return new Uint8Array(Buffer.concat([plain, decipher.final()]))
    } catch {
      return yield* new KeyFileError({ reason: "Authentication", message: "wrong passphrase or damaged file" })
    } finally {
      key.fill(0)
    }
  })

/**
 * The scrypt parameters for a key we write: the defaults, or log2 N from `SIXCHAT_SCRYPT_LOG2N` (tests
 * set it low to stay fast). It is honoured only inside the bounds a reader accepts.
 */
export const scryptParamsForWriting: Effect.Effect<ScryptParams, CliFailure> = Effect.gen(function* () {
  const log2N = yield* Config.option(Config.integer("SIXCHAT_SCRYPT_LOG2N")).pipe(
    Effect.mapError(() => usage("SIXCHAT_SCRYPT_LOG2N must be a whole number such as 17"))
  )
  const params = { ...DEFAULT_SCRYPT, log2N: Option.getOrElse(log2N, () => DEFAULT_SCRYPT.log2N) }
  return yield* checkScryptParams(params).pipe(
    Effect.mapError((e) => usage(`SIXCHAT_SCRYPT_LOG2N: ${e.message}; unset it to use 17`))
  )
})

/**
 * Writes a key file with mode 0600 through a temporary file in the same directory, so the key is never
 * half-written: `replace` renames over the old file; otherwise the file is linked into place, which
 * fails if one already exists (a key is never overwritten by `id new`).
 */
export const writeKeyFile = (file: string, text: string, options: { readonly replace: boolean }) =>
  Effect.try({
    try: () => {
      const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`)
      const fd = fs.openSync(temp, "wx", 0o600)
      try {
        fs.writeFileSync(fd, text, "utf8")
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      try {
        if (options.replace) fs.renameSync(temp, file)
        else fs.linkSync(temp, file)
      } finally {
        fs.rmSync(temp, { force: true })
      }
    },
    catch: (e) =>
      new CliFailure({
        code: ExitCode.State,
        message:
          (e as NodeJS.ErrnoException).code === "EEXIST"
            ? `${file} already exists: use another --home, or keep using this one`
            : `cannot write ${file}: ${(e as Error).message}`
      })
  })
