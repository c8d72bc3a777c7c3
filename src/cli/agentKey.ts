/**
 * The agent's private key from the identity home (issue 4, section 1: "private key may be
 * passphrase-protected"): `key.pem` holds either a plain PKCS#8 key (`-----BEGIN PRIVATE KEY-----`,
 * what `sixchat id new` writes) or an encrypted one (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PKCS#8
 * with PBES2, e.g. `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in key.pem`).
 *
 * The passphrase comes from `SIXCHAT_PASSPHRASE`, else from a prompt on the terminal (not echoed)
 * when stdin is one. It is held only long enough to decrypt the key.
 */
import { createPrivateKey } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { Config, Effect, Option, Redacted } from "effect"
import { pemDecode } from "../domain/pem.js"
import { CliFailure, ExitCode } from "./failure.js"
import { homePath } from "./home.js"

const ENCRYPTED = "ENCRYPTED PRIVATE KEY"

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

const passphrase = (file: string): Effect.Effect<Redacted.Redacted<string>, CliFailure> =>
  Effect.gen(function* () {
    const fromEnv = yield* Effect.orElseSucceed(Config.option(Config.redacted("SIXCHAT_PASSPHRASE")), () =>
      Option.none()
    )
    if (Option.isSome(fromEnv)) return fromEnv.value
    if (process.stdin.isTTY !== true)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `${file} is protected by a passphrase: set SIXCHAT_PASSPHRASE, or start the agent in a terminal to type it`
      })
    const typed = yield* promptHidden(`passphrase for ${file}: `)
    if (typed === undefined) return yield* new CliFailure({ code: ExitCode.Usage, message: "no passphrase given" })
    return Redacted.make(typed)
  })

/** The home's key as PKCS#8 DER, decrypting it when it is protected. */
export const readAgentKey = (home: string): Effect.Effect<Uint8Array, CliFailure> =>
  Effect.gen(function* () {
    const file = homePath(home, "key")
    if (!existsSync(file))
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `${file} is missing: create an identity with \`sixchat id new --home ${home} --handle you@your.domain\``
      })
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (e) => new CliFailure({ code: ExitCode.State, message: `cannot read ${file}: ${(e as Error).message}` })
    })
    const plain = pemDecode(text, "PRIVATE KEY")
    const encrypted = pemDecode(text, ENCRYPTED)
    if (plain.length + encrypted.length !== 1)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `${file} must hold exactly one PKCS#8 private key (plain or encrypted)`
      })
    if (plain.length === 1) return plain[0]!
    const secret = yield* passphrase(file)
    return yield* Effect.try({
      try: () =>
        new Uint8Array(
          createPrivateKey({ key: text, format: "pem", passphrase: Redacted.value(secret) }).export({
            type: "pkcs8",
            format: "der"
          })
        ),
      catch: () =>
        new CliFailure({
          code: ExitCode.Rejected,
          message: `cannot decrypt ${file}: the passphrase is wrong (or the file is damaged)`
        })
    })
  })
