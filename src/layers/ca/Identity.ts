/**
 * `sixchat id new`: an identity key pair and the CSR to enrol it (IRP issue section 4). The key
 * file is PKCS#8 PEM created with mode 0600 inside a home directory of mode 0700; it is never
 * overwritten, since losing it loses the identity.
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { Handle } from "../../domain/brands.js"
import { pemEncode } from "../../domain/pem.js"
import type { CaError } from "../../domain/pki/errors.js"
import { createCsr } from "./csr.js"
import { ensureDirectory, writeFile, writeNewFile } from "./files.js"
import { generateKeyPair, KEY_SEED_BYTES } from "./keys.js"

/** File names inside an identity home written here; `id enroll` adds the certificate and trust anchor. */
export const IdentityFile = {
  key: "key.pem",
  csr: "csr.pem"
} as const

export interface NewIdentity {
  readonly keyPath: string
  readonly csrPath: string
  readonly csrDer: Uint8Array
  /** The public key, DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array
}

export const newIdentity = (params: {
  readonly home: string
  readonly handle: Handle
  /** Random bytes (the `Entropy` service) for the key. */
  readonly entropy: (length: number) => Uint8Array
}): Effect.Effect<NewIdentity, CaError> =>
  Effect.gen(function* () {
    const key = yield* generateKeyPair(params.entropy(KEY_SEED_BYTES))
    const csrDer = yield* createCsr({ handle: params.handle, pkcs8: key.pkcs8 })
    const keyPath = path.resolve(params.home, IdentityFile.key)
    const csrPath = path.resolve(params.home, IdentityFile.csr)
    yield* ensureDirectory(params.home)
    // The key first: when it already exists nothing is touched. The CSR follows the key, so a
    // stale csr.pem left without its key is replaced.
    yield* writeNewFile(keyPath, pemEncode("PRIVATE KEY", key.pkcs8), 0o600)
    yield* writeFile(csrPath, pemEncode("CERTIFICATE REQUEST", csrDer), 0o644)
    return { keyPath, csrPath, csrDer, spki: key.spki }
  })
