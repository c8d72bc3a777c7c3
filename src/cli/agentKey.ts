/**
 * The identity key from the home (issue 4, section 1: "private key may be passphrase-protected"):
 * `key.pem` holds exactly one of
 *
 * * a plain PKCS#8 key (`-----BEGIN PRIVATE KEY-----`, what `sixchat id new` writes),
 * * an encrypted PKCS#8 key (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PBES2, e.g. from
 *   `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in key.pem`),
 * * our own scrypt + AES-256-GCM format (`-----BEGIN SIXCHAT ENCRYPTED PRIVATE KEY-----`, from
 *   `sixchat id new --protect` or `sixchat id passphrase`; docs/KEYS.md).
 *
 * The agent, `register`, `lookup`, `revoke` and `id enroll` all read it here. The passphrase comes from
 * `SIXCHAT_PASSPHRASE`, else from a prompt on the terminal (not echoed) when stdin is one; it is held
 * only long enough to decrypt the key.
 */
import { createPrivateKey } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { Config, Effect, Either, Option, Redacted } from "effect"
import { decodeKeyFile, KEY_FILE_LABEL, KeyFileError } from "../domain/home/keyFile.js"
import { pemDecodeAll } from "../domain/pem.js"
import { CliFailure, ExitCode, usage } from "./failure.js"
import { homePath } from "./home.js"
import { type KeyFileKdf, nodeScrypt, openKey } from "./keyProtection.js"

const PLAIN = "PRIVATE KEY"
const PKCS8_ENCRYPTED = "ENCRYPTED PRIVATE KEY"

/** Reads a line from the terminal without echoing it (raw mode); `undefined` on Ctrl-C / Ctrl-D. */
export const promptHidden = (question: string): Effect.Effect<string | undefined> =>
  Effect.async<string | undefined>((resume) => {
    const stdin = process.stdin
    process.stderr.write(question)
    let typed = ""
    const finish = (value: string | undefined) => {
      stdin.off("data", onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write("\n")
      resume(Effect.succeed(value))
    }
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return finish(typed)
        if (ch === "\u0003" || ch === "\u0004") return finish(undefined)
        if (ch === "\u007f" || ch === "\b") typed = typed.slice(0, -1)
        else if (ch >= " ") typed += ch
      }
    }
    stdin.setRawMode(true)
    stdin.resume()
    stdin.on("data", onData)
    return Effect.sync(() => {
      stdin.off("data", onData)
      stdin.setRawMode(false)
      stdin.pause()
    })
  })

const fromEnv = (name: string) =>
  Effect.orElseSucceed(Config.option(Config.redacted(name)), () => Option.none<Redacted.Redacted<string>>())

/** The passphrase that unlocks `file`: `SIXCHAT_PASSPHRASE`, else typed on the terminal. */
export const currentPassphrase = (file: string): Effect.Effect<Redacted.Redacted<string>, CliFailure> =>
  Effect.gen(function* () {
    const given = yield* fromEnv("SIXCHAT_PASSPHRASE")
    if (Option.isSome(given)) return given.value
    if (process.stdin.isTTY !== true)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `${file} is protected by a passphrase: set SIXCHAT_PASSPHRASE, or run sixchat in a terminal to type it`
      })
    const typed = yield* promptHidden(`passphrase for ${file}: `)
    if (typed === undefined) return yield* usage("no passphrase given")
    return Redacted.make(typed)
  })

/**
 * A new passphrase for `file`: from the environment variable `envName`, else typed twice on the
 * terminal. An empty one is refused: it would protect nothing.
 */
export const newPassphrase = (
  file: string,
  envName: string,
  /** What to do instead of protecting the key, e.g. "leave out --protect". */
  otherwise: string
): Effect.Effect<Redacted.Redacted<string>, CliFailure> =>
  Effect.gen(function* () {
    const empty = usage(`an empty passphrase protects nothing: choose one (or ${otherwise})`)
    const given = yield* fromEnv(envName)
    if (Option.isSome(given)) return Redacted.value(given.value) === "" ? yield* empty : given.value
    if (process.stdin.isTTY !== true)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `a new passphrase for ${file} is needed: set ${envName}, or run sixchat in a terminal to type it`
      })
    const first = yield* promptHidden(`new passphrase for ${file}: `)
    if (first === undefined) return yield* usage("no passphrase given")
    if (first === "") return yield* empty
    const second = yield* promptHidden("the same passphrase again: ")
    if (second !== first) return yield* usage("the two passphrases differ: run the command again")
    return Redacted.make(first)
  })

/** How the key in a home is stored. */
export type KeyProtection = "plain" | "pkcs8-encrypted" | "sixchat"

export interface HomeKey {
  readonly pkcs8: Uint8Array
  readonly protection: KeyProtection
}

const keyFileFailure = (file: string, e: KeyFileError): CliFailure =>
  e.reason === "Authentication"
    ? new CliFailure({
        code: ExitCode.Rejected,
        message: `cannot decrypt ${file}: the passphrase is wrong (or the file is damaged): try again with the right one`
      })
    : new CliFailure({
        code: ExitCode.State,
        message: `${file} is refused: ${e.message}; restore the key from a backup or create a new identity`
      })

/** The home's key as PKCS#8 DER and how it was protected, decrypting it when it is protected. */
export const readHomeKey = (home: string, kdf: KeyFileKdf = nodeScrypt): Effect.Effect<HomeKey, CliFailure> =>
  readKeyFile(
    homePath(home, "key"),
    `create an identity with \`sixchat id new --home ${home} --handle you@your.domain\``,
    kdf
  )

/**
 * A key file (plain PKCS#8, encrypted PKCS#8 or our scrypt + AES-GCM format) as PKCS#8 DER, asking for
 * the passphrase when it is protected; `whenMissing` says what to do if the file does not exist.
 */
export const readKeyFile = (
  file: string,
  whenMissing: string,
  kdf: KeyFileKdf = nodeScrypt
): Effect.Effect<HomeKey, CliFailure> =>
  Effect.gen(function* () {
    if (!existsSync(file))
      return yield* new CliFailure({ code: ExitCode.State, message: `${file} is missing: ${whenMissing}` })
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (e) => new CliFailure({ code: ExitCode.State, message: `cannot read ${file}: ${(e as Error).message}` })
    })
    // Every private key block counts, so a second key (of any kind) is noticed rather than ignored.
    const keys = pemDecodeAll(text).filter((b) => b.label.endsWith(PLAIN))
    if (keys.length !== 1)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `${file} must hold exactly one private key (it holds ${keys.length})`
      })
    const { label, der } = keys[0]!
    switch (label) {
      case PLAIN:
        return { pkcs8: der, protection: "plain" }
      case PKCS8_ENCRYPTED: {
        const secret = yield* currentPassphrase(file)
        const pkcs8 = yield* Effect.try({
          try: () =>
            new Uint8Array(
              createPrivateKey({
                key: Buffer.from(der),
                format: "der",
                type: "pkcs8",
                passphrase: Redacted.value(secret)
              }).export({ type: "pkcs8", format: "der" })
            ),
          catch: () => keyFileFailure(file, new KeyFileError({ reason: "Authentication", message: "" }))
        })
        return { pkcs8, protection: "pkcs8-encrypted" }
      }
      case KEY_FILE_LABEL: {
        // The header is checked first: a hostile file is refused before we ask for anything or derive.
        const sealed = decodeKeyFile(der)
        if (Either.isLeft(sealed)) return yield* keyFileFailure(file, sealed.left)
        const secret = yield* currentPassphrase(file)
        const pkcs8 = yield* Effect.mapError(openKey(sealed.right, secret, kdf), (e) => keyFileFailure(file, e))
        return { pkcs8, protection: "sixchat" }
      }
      default:
        return yield* new CliFailure({
          code: ExitCode.State,
          message: `${file} holds a "${label}" key, which sixchat does not read: convert it with \`openssl pkcs8 -topk8 -nocrypt -in ${file}\``
        })
    }
  })

/** The home's key as PKCS#8 DER (what the agent and the IRP commands sign with). */
export const readAgentKey = (home: string): Effect.Effect<Uint8Array, CliFailure> =>
  Effect.map(readHomeKey(home), (key) => key.pkcs8)
