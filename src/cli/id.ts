/**
 * `sixchat id new | show | passphrase` (and `id enroll`, in `enroll.ts`): the user's identity home.
 * `id new` writes the key with mode 0600 through a temporary file and never over an existing key.
 */
import { existsSync } from "node:fs"
import { hostname } from "node:os"
import * as path from "node:path"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Option, Schema } from "effect"
import { Handle } from "../domain/brands.js"
import { pemEncode } from "../domain/pem.js"
import { createCsr } from "../layers/ca/csr.js"
import { ensureDirectory, writeFile } from "../layers/ca/files.js"
import { generateKeyPair, KEY_SEED_BYTES } from "../layers/ca/keys.js"
import { Entropy } from "../services/Entropy.js"
import { newPassphrase, readHomeKey } from "./agentKey.js"
import { stdoutLine } from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"
import {
  describeCertificate,
  homeOption,
  homePath,
  readChain,
  readIdentityConfig,
  writeIdentityConfig
} from "./home.js"
import { scryptParamsForWriting, sealKey, writeKeyFile } from "./keyProtection.js"

/** A stable, readable device id: host name plus a random suffix. */
const deviceIdFor = (random: Uint8Array) => {
  const host =
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, "-")
      .slice(0, 40) || "device"
  return `${host}-${Buffer.from(random).toString("hex")}`
}

/** A CA-layer failure (key generation, CSR, files) as one line of local state trouble. */
const stateFailure = (e: { readonly message: string }) => new CliFailure({ code: ExitCode.State, message: e.message })

const idNew = Command.make(
  "new",
  {
    home: homeOption,
    handle: Options.text("handle").pipe(Options.withDescription("your handle, e.g. alice@example.org")),
    protect: Options.boolean("protect").pipe(
      Options.withDescription(
        "protect the key with a passphrase (from SIXCHAT_PASSPHRASE, or typed twice); scrypt + AES-256-GCM, docs/KEYS.md"
      )
    )
  },
  (o) =>
    Effect.gen(function* () {
      const handle = yield* Schema.decodeUnknown(Handle)(o.handle).pipe(
        Effect.mapError(() => usage(`"${o.handle}" is not a handle like alice@example.org`))
      )
      const keyPath = path.resolve(homePath(o.home, "key"))
      const csrPath = path.resolve(homePath(o.home, "csr"))
      // Checked before asking for a passphrase; the write below still refuses to replace a key.
      if (existsSync(keyPath))
        return yield* new CliFailure({
          code: ExitCode.State,
          message: `${o.home} already holds an identity key: use another --home, or keep using this one`
        })
      const protection = o.protect
        ? Option.some({
            passphrase: yield* newPassphrase(keyPath, "SIXCHAT_PASSPHRASE", "leave out --protect"),
            scrypt: yield* scryptParamsForWriting
          })
        : Option.none()
      const entropy = yield* Entropy
      const key = yield* Effect.mapError(generateKeyPair(entropy.bytes(KEY_SEED_BYTES)), stateFailure)
      const csr = yield* Effect.mapError(createCsr({ handle, pkcs8: key.pkcs8 }), stateFailure)
      yield* Effect.mapError(ensureDirectory(o.home), stateFailure)
      const text = Option.isSome(protection)
        ? yield* Effect.mapError(
            sealKey({ pkcs8: key.pkcs8, ...protection.value, random: entropy.bytes }),
            stateFailure
          )
        : pemEncode("PRIVATE KEY", key.pkcs8)
      // The key first: when it already exists nothing is touched. The CSR follows the key, so a stale
      // csr.pem left without its key is replaced.
      yield* writeKeyFile(keyPath, text, { replace: false })
      yield* Effect.mapError(writeFile(csrPath, pemEncode("CERTIFICATE REQUEST", csr), 0o644), stateFailure)
      yield* writeIdentityConfig(o.home, { version: 1, handle, deviceId: deviceIdFor(entropy.bytes(4)) })
      yield* stdoutLine(
        `created a key for ${handle} in ${keyPath} (mode 0600${o.protect ? ", protected by your passphrase" : ""})`
      )
      yield* stdoutLine(`CSR: ${csrPath}`)
      yield* stdoutLine(
        `next: sixchat id enroll --home ${o.home} --irp HOST:PORT --token TOKEN --trust CA.pem   (ask your domain's operator for the token)`
      )
    })
).pipe(
  Command.withDescription(
    "create a key pair and a CSR for a handle (the key file is 0600; --protect adds a passphrase)"
  )
)

/**
 * `sixchat id passphrase --home H [--remove]`: re-encrypts the key (plain, encrypted PKCS#8 or ours)
 * under a new passphrase in our format, or stores it unprotected. The current passphrase comes from
 * `SIXCHAT_PASSPHRASE` (as for every command that reads the key), the new one from
 * `SIXCHAT_NEW_PASSPHRASE`; on a terminal both are typed instead.
 */
const idPassphrase = Command.make(
  "passphrase",
  {
    home: homeOption,
    remove: Options.boolean("remove").pipe(
      Options.withDescription("store the key without a passphrase (anyone who can read the file can use it)")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const file = homePath(o.home, "key")
      const current = yield* readHomeKey(o.home)
      if (o.remove) {
        if (current.protection === "plain") return yield* stdoutLine(`${file} has no passphrase: nothing to remove`)
        yield* writeKeyFile(file, pemEncode("PRIVATE KEY", current.pkcs8), { replace: true })
        return yield* stdoutLine(`removed the passphrase of ${file} (mode 0600): keep the file to yourself`)
      }
      const passphrase = yield* newPassphrase(file, "SIXCHAT_NEW_PASSPHRASE", "use --remove")
      const scrypt = yield* scryptParamsForWriting
      const entropy = yield* Entropy
      const text = yield* Effect.mapError(
        sealKey({ pkcs8: current.pkcs8, passphrase, scrypt, random: entropy.bytes }),
        stateFailure
      )
      yield* writeKeyFile(file, text, { replace: true })
      yield* stdoutLine(
        `${file} is protected by the new passphrase (scrypt N = 2^${scrypt.log2N}, r = ${scrypt.r}, AES-256-GCM; mode 0600)`
      )
    })
).pipe(
  Command.withDescription(
    "set or change the key's passphrase (current: SIXCHAT_PASSPHRASE, new: SIXCHAT_NEW_PASSPHRASE, else typed), or --remove it"
  )
)

const idShow = Command.make("show", { home: homeOption }, (o) =>
  Effect.gen(function* () {
    const config = yield* readIdentityConfig(o.home)
    yield* stdoutLine(`handle:      ${config.handle}`)
    yield* stdoutLine(`device:      ${config.deviceId}`)
    yield* stdoutLine(`key:         ${homePath(o.home, "key")}`)
    const chain = yield* Effect.option(readChain(o.home))
    if (Option.isNone(chain)) {
      yield* stdoutLine("certificate: none yet (run `sixchat id enroll`)")
      return
    }
    const leaf = describeCertificate(chain.value[0]!)
    if (leaf === undefined) return yield* new CliFailure({ code: ExitCode.State, message: "cert.pem is not readable" })
    yield* stdoutLine(`certificate: serial ${leaf.serial}, valid until ${leaf.notAfter.toISOString()}`)
    yield* stdoutLine(`fingerprint: ${leaf.fingerprint}`)
    yield* stdoutLine(`irp:         ${config.irp ?? "-"} (${config.irpServerName ?? "-"})`)
  })
).pipe(Command.withDescription("show the identity in a home directory"))

export const idCommands = [idNew, idShow, idPassphrase] as const
