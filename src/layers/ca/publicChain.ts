/**
 * The IRP's public chain (PROTOCOL.md §22.2.1): a certificate chain from a public CA (ACME, e.g. Let's
 * Encrypt) for `irp.<domain>` with EKU serverAuth, shown to another domain's IRP that asks
 * `<Trust>public</Trust>` and presented as the client certificate when this IRP asks another. It is
 * checked when `irp init` or `irp public-cert` copies it into the domain directory, and again when
 * `irp serve` loads it (an ACME client may have replaced the files meanwhile): the key must be the leaf's,
 * ECDSA P-256 or Ed25519 (what the handshake signs with), the leaf must name `irp.<domain>` in its SAN and
 * carry EKU serverAuth. The chain's trust is not checked here: the other domains do that.
 */
import { createPrivateKey, X509Certificate } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect } from "effect"
import { dnsNamesOf } from "../../domain/cert/identity.js"
import { parseCertificate } from "../../domain/cert/parse.js"
import { pemDecode, pemEncode } from "../../domain/pem.js"
import { DomainFile } from "../../domain/pki/config.js"
import { CaError } from "../../domain/pki/errors.js"
import { readText, writeFile, writeNewFile } from "./files.js"

/** A public chain and its key, checked. */
export interface PublicIdentity {
  /** DER, leaf first. */
  readonly chain: ReadonlyArray<Uint8Array>
  /** PKCS#8 DER. Secret. */
  readonly pkcs8: Uint8Array
}

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
/** A chain longer than this is refused (a public chain is leaf + 1 or 2 intermediates). */
const MAX_PUBLIC_CHAIN = 8

/** Why `chain` and `pkcs8` cannot be `domain`'s public chain, in one sentence; `undefined` when they can. */
export const publicChainProblem = (
  domain: string,
  chain: ReadonlyArray<Uint8Array>,
  pkcs8: Uint8Array
): string | undefined => {
  const name = `irp.${domain}`
  const leafDer = chain[0]
  if (leafDer === undefined) return "it holds no certificate"
  if (chain.length > MAX_PUBLIC_CHAIN) return `it holds ${chain.length} certificates, more than ${MAX_PUBLIC_CHAIN}`
  const parsed = parseCertificate(leafDer)
  if (parsed._tag !== "Parsed") return "its first certificate is not a valid X.509 certificate"
  let leaf: X509Certificate
  let key: ReturnType<typeof createPrivateKey>
  try {
    leaf = new X509Certificate(leafDer)
    key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" })
  } catch {
    return "the key is not an unencrypted PKCS#8 private key"
  }
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (!(type === "ed25519" || (type === "ec" && curve === "prime256v1")))
    return `the key is ${type === "ec" ? `EC ${curve}` : type}; the IRP signs with ECDSA P-256 or Ed25519 only (ask the CA for a P-256 certificate)`
  if (!leaf.checkPrivateKey(key)) return "the key does not match the first (leaf) certificate"
  if (!dnsNamesOf(parsed.certificate).includes(name))
    return `the leaf certificate does not name ${name} in its subjectAltName (dNSName)`
  const eku = leaf.keyUsage as ReadonlyArray<string> | undefined
  if (eku === undefined || !eku.includes(SERVER_AUTH))
    return "the leaf certificate lacks the extended key usage serverAuth"
  return undefined
}

const keyBlocks = (text: string): ReadonlyArray<Uint8Array> => pemDecode(text, "PRIVATE KEY")

/** Reads a chain file and a key file (PEM) and checks them for `domain`; a sentence naming the files when unfit. */
export const readPublicIdentity = (
  domain: string,
  certFile: string,
  keyFile: string
): Effect.Effect<PublicIdentity, CaError> =>
  Effect.gen(function* () {
    const chain = pemDecode(yield* readText(certFile), "CERTIFICATE")
    const keys = keyBlocks(yield* readText(keyFile))
    if (keys.length !== 1)
      return yield* new CaError({
        reason: "BadParameter",
        message: `${keyFile} must hold exactly one PEM PRIVATE KEY (PKCS#8, unencrypted).`
      })
    const problem = publicChainProblem(domain, chain, keys[0]!)
    if (problem !== undefined)
      return yield* new CaError({
        reason: "BadParameter",
        message: `${certFile} and ${keyFile} cannot be the public chain of irp.${domain}: ${problem}.`
      })
    return { chain, pkcs8: keys[0]! }
  })

const KEY_MODE = 0o600
const PUBLIC_MODE = 0o644

/**
 * Copies a checked public chain into domain directory `dir` (`public.pem`, `public-key.pem` mode 0600),
 * replacing an earlier one; the paths written. irp.json records them (`publicChain`).
 */
export const storePublicIdentity = (
  dir: string,
  identity: PublicIdentity
): Effect.Effect<{ readonly cert: string; readonly key: string }, CaError> =>
  Effect.gen(function* () {
    const cert = path.join(path.resolve(dir), DomainFile.publicChain)
    const key = path.join(path.resolve(dir), DomainFile.publicKey)
    // Created anew, so that the mode is 0600 whatever an earlier file had.
    yield* Effect.promise(() => fs.rm(key, { force: true }))
    yield* writeNewFile(key, pemEncode("PRIVATE KEY", identity.pkcs8), KEY_MODE)
    yield* writeFile(cert, identity.chain.map((d) => pemEncode("CERTIFICATE", d)).join(""), PUBLIC_MODE)
    return { cert, key }
  })
