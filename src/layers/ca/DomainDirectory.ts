/**
 * `sixchat irp init`: a domain directory with its root CA, issuing CA, IRP server certificate and
 * `irp.json` (IRP issue section 1); and loading it back for `irp serve`.
 *
 * Everything is generated in memory first, then written into a directory this call creates (mode
 * 0700); private keys are PKCS#8 PEM created with mode 0600. If a write fails the half-made
 * directory is removed, so a retry starts clean. Nothing here logs key material.
 */
import * as path from "node:path"
import { Effect, ParseResult, Schema } from "effect"
import { pemDecode, pemEncode } from "../../domain/pem.js"
import { DomainFile, defaultIrpConfig, IrpConfig, IrpConfigJson } from "../../domain/pki/config.js"
import { CaError } from "../../domain/pki/errors.js"
import * as Profile from "../../domain/pki/profile.js"
import { createIssuingCa, createRootCa, createServerCertificate, type Issuer, loadIssuer } from "./certificates.js"
import { makeNewDirectory, readText, removeDirectory, writeFile, writeNewFile } from "./files.js"
import { generateKeyPair, KEY_SEED_BYTES } from "./keys.js"
import { type PublicIdentity, readPublicIdentity, storePublicIdentity } from "./publicChain.js"

export type { PublicIdentity } from "./publicChain.js"

export interface InitDomainParams {
  readonly dir: string
  readonly domain: string
  readonly now: Date
  /** Random bytes (the `Entropy` service): key seeds and serial numbers. */
  readonly entropy: (length: number) => Uint8Array
  /** SAN dNSNames of the server certificate, the first being its CN; default `irp.<domain>`, `<domain>`. */
  readonly serverNames?: ReadonlyArray<string> | undefined
  readonly clientValidityDays?: number | undefined
  readonly serverValidityDays?: number | undefined
  readonly rootValidityDays?: number | undefined
  readonly issuingValidityDays?: number | undefined
  /** The storage irp.json records (`sqlite:PATH` or `postgres://…`); default the SQLite file in DIR. */
  readonly db?: string | undefined
  /** The public chain for `irp.<domain>` (PROTOCOL.md §22.2.1), checked (`readPublicIdentity`). */
  readonly publicIdentity?: PublicIdentity | undefined
}

export interface DomainInitialised {
  readonly dir: string
  readonly config: IrpConfig
  /** The trust anchor (`ca.pem`) as DER. */
  readonly rootCertificate: Uint8Array
  /** Absolute paths of the files written, by role. */
  readonly files: { readonly [K in keyof typeof DomainFile]: string }
}

const KEY_MODE = 0o600
const PUBLIC_MODE = 0o644

/** irp.json is public unless its storage URL carries a password. */
const configMode = (db: string): number => (URL.canParse(db) && new URL(db).password !== "" ? KEY_MODE : PUBLIC_MODE)

const filesIn = (dir: string): DomainInitialised["files"] => {
  const abs = path.resolve(dir)
  return Object.fromEntries(
    Object.entries(DomainFile).map(([role, name]) => [role, path.join(abs, name)])
  ) as DomainInitialised["files"]
}

const certPem = (ders: ReadonlyArray<Uint8Array>): string => ders.map((d) => pemEncode("CERTIFICATE", d)).join("")
const keyPem = (pkcs8: Uint8Array): string => pemEncode("PRIVATE KEY", pkcs8)

export const initDomain = (params: InitDomainParams): Effect.Effect<DomainInitialised, CaError> =>
  Effect.gen(function* () {
    const { domain, now } = params
    const serverNames = params.serverNames ?? Profile.defaultServerNames(domain)
    const clientValidityDays = params.clientValidityDays ?? Profile.CLIENT_VALIDITY_DAYS
    const serverValidityDays = params.serverValidityDays ?? Profile.SERVER_VALIDITY_DAYS
    const config = yield* Schema.decodeUnknown(IrpConfig)({
      ...defaultIrpConfig({ domain, serverNames, clientValidityDays, serverValidityDays, db: params.db }),
      ...(params.publicIdentity === undefined ? {} : { publicChain: PUBLIC_CHAIN_FILES })
    }).pipe(
      Effect.mapError(
        (cause) =>
          new CaError({
            reason: "BadParameter",
            message: `The domain settings are invalid (domain "${domain}", server names ${serverNames.join(", ")}): use lower-case DNS names and validity days from 1 to 36500.`,
            cause
          })
      )
    )
    const serial = () => Profile.serialFromEntropy(params.entropy(Profile.SERIAL_BYTES))

    const rootKey = yield* generateKeyPair(params.entropy(KEY_SEED_BYTES))
    const issuingKey = yield* generateKeyPair(params.entropy(KEY_SEED_BYTES))
    const serverKey = yield* generateKeyPair(params.entropy(KEY_SEED_BYTES))
    const rootDer = yield* createRootCa({
      domain,
      key: rootKey,
      now,
      serial: serial(),
      validityDays: params.rootValidityDays,
      serverNames
    })
    const root = yield* loadIssuer({ certificateDer: rootDer, pkcs8: rootKey.pkcs8, domain })
    const issuingDer = yield* createIssuingCa({
      key: issuingKey,
      issuer: root,
      now,
      serial: serial(),
      validityDays: params.issuingValidityDays
    })
    const issuing = yield* loadIssuer({ certificateDer: issuingDer, pkcs8: issuingKey.pkcs8, domain })
    const server = yield* createServerCertificate({
      spki: serverKey.spki,
      serverNames,
      issuer: issuing,
      now,
      serial: serial(),
      validityDays: serverValidityDays
    })

    const files = filesIn(params.dir)
    yield* makeNewDirectory(params.dir)
    yield* Effect.all(
      [
        writeNewFile(files.ca, certPem([rootDer]), PUBLIC_MODE),
        writeNewFile(files.rootKey, keyPem(rootKey.pkcs8), KEY_MODE),
        writeNewFile(files.issuingCa, certPem([issuingDer]), PUBLIC_MODE),
        writeNewFile(files.issuingKey, keyPem(issuingKey.pkcs8), KEY_MODE),
        writeNewFile(files.server, certPem(server.chain), PUBLIC_MODE),
        writeNewFile(files.serverKey, keyPem(serverKey.pkcs8), KEY_MODE),
        writeNewFile(files.config, `${Schema.encodeSync(IrpConfigJson)(config)}\n`, configMode(config.db)),
        ...(params.publicIdentity === undefined ? [] : [storePublicIdentity(params.dir, params.publicIdentity)])
      ],
      { discard: true }
    ).pipe(Effect.onError(() => removeDirectory(params.dir)))
    return { dir: path.resolve(params.dir), config, rootCertificate: rootDer, files }
  })

/** What irp.json records for a public chain copied into the domain directory. */
const PUBLIC_CHAIN_FILES = { cert: DomainFile.publicChain, key: DomainFile.publicKey } as const

/**
 * `irp public-cert`: checks a public chain for the domain of `dir` (PROTOCOL.md §22.2.1), copies it into
 * the directory (replacing an earlier one) and records it in irp.json. `irp serve` uses it from its next start.
 */
export const setPublicChain = (
  dir: string,
  certFile: string,
  keyFile: string
): Effect.Effect<{ readonly domain: string; readonly cert: string; readonly key: string }, CaError> =>
  Effect.gen(function* () {
    const files = filesIn(dir)
    const config = yield* readConfig(files.config)
    const identity = yield* readPublicIdentity(config.domain, certFile, keyFile)
    const stored = yield* storePublicIdentity(dir, identity)
    const updated: IrpConfig = { ...config, publicChain: PUBLIC_CHAIN_FILES }
    yield* writeFile(files.config, `${Schema.encodeSync(IrpConfigJson)(updated)}\n`, configMode(config.db))
    return { domain: config.domain, ...stored }
  })

/** What `irp serve` needs from a domain directory. */
export interface LoadedDomain {
  readonly config: IrpConfig
  /** The trust anchor (`ca.pem`), DER. */
  readonly rootCertificate: Uint8Array
  /** The issuing CA, ready to sign client certificates and CRLs. */
  readonly issuer: Issuer
  /** The server certificate chain, leaf first. */
  readonly serverChain: ReadonlyArray<Uint8Array>
  /** The server's PKCS#8 private key (for CertificateVerify). Secret. */
  readonly serverKey: Uint8Array
  /** The public chain for other domains' IRPs (PROTOCOL.md §22.2.1), checked; absent when irp.json names none. */
  readonly publicIdentity?: PublicIdentity | undefined
}

const single = (file: string, text: string, label: string): Effect.Effect<Uint8Array, CaError> => {
  const blocks = pemDecode(text, label)
  return blocks.length === 1
    ? Effect.succeed(blocks[0]!)
    : Effect.fail(new CaError({ reason: "Io", message: `${file} must hold exactly one PEM ${label}.` }))
}

/** What is wrong in irp.json, as `: federation.mode: …` (the first problem), or nothing for a non-schema failure. */
const configProblem = (cause: unknown): string => {
  if (!ParseResult.isParseError(cause)) return ""
  const issue = ParseResult.ArrayFormatter.formatErrorSync(cause)[0]
  if (issue === undefined) return ""
  return `: ${issue.path.length === 0 ? "" : `${issue.path.join(".")}: `}${issue.message}`
}

const readConfig = (file: string): Effect.Effect<IrpConfig, CaError> =>
  readText(file).pipe(
    Effect.flatMap(Schema.decodeUnknown(IrpConfigJson)),
    Effect.mapError((cause) =>
      cause instanceof CaError
        ? cause
        : new CaError({
            reason: "Io",
            message: `${file} is not a valid IRP configuration${configProblem(cause)}.`,
            cause
          })
    )
  )

/** Reads a domain directory written by `initDomain` (the root key is not read: it may be offline). */
export const loadDomain = (dir: string): Effect.Effect<LoadedDomain, CaError> =>
  Effect.gen(function* () {
    const files = filesIn(dir)
    const config = yield* readConfig(files.config)
    const rootCertificate = yield* readText(files.ca).pipe(Effect.flatMap((t) => single(files.ca, t, "CERTIFICATE")))
    const issuingDer = yield* readText(files.issuingCa).pipe(
      Effect.flatMap((t) => single(files.issuingCa, t, "CERTIFICATE"))
    )
    const issuingKey = yield* readText(files.issuingKey).pipe(
      Effect.flatMap((t) => single(files.issuingKey, t, "PRIVATE KEY"))
    )
    const serverChain = pemDecode(yield* readText(files.server), "CERTIFICATE")
    if (serverChain.length === 0) {
      return yield* new CaError({ reason: "Io", message: `${files.server} holds no certificate.` })
    }
    const serverKey = yield* readText(files.serverKey).pipe(
      Effect.flatMap((t) => single(files.serverKey, t, "PRIVATE KEY"))
    )
    const issuer = yield* loadIssuer({ certificateDer: issuingDer, pkcs8: issuingKey, domain: config.domain })
    const publicIdentity =
      config.publicChain === undefined
        ? undefined
        : yield* readPublicIdentity(
            config.domain,
            path.resolve(dir, config.publicChain.cert),
            path.resolve(dir, config.publicChain.key)
          ).pipe(
            // A file renewed into something unusable: the same sentence, with where irp.json names it.
            Effect.mapError(
              (e) => new CaError({ reason: "Io", message: `${e.message} (irp.json "publicChain")`, cause: e })
            )
          )
    return {
      config,
      rootCertificate,
      issuer,
      serverChain,
      serverKey,
      ...(publicIdentity === undefined ? {} : { publicIdentity })
    }
  })
