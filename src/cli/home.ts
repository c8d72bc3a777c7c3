/**
 * The identity home: locating it, reading and writing its files.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import * as path from "node:path"
import * as Options from "@effect/cli/Options"
import { Config, Effect, Either, Schema } from "effect"
import { CONTROL_SOCKET_FILE } from "../domain/agent/rpc.js"
import { certificateIdentity } from "../domain/cert/identity.js"
import { HomeFile, type IdentityConfig, IdentityConfigJson } from "../domain/home/identityHome.js"
import { pemDecode, pemEncode } from "../domain/pem.js"
import { CliFailure, ExitCode } from "./failure.js"

export const homeOption = Options.text("home").pipe(
  Options.withFallbackConfig(Config.string("SIXCHAT_HOME")),
  Options.withDefault(path.join(homedir(), ".sixchat")),
  Options.withDescription("identity home directory (default $SIXCHAT_HOME or ~/.sixchat)")
)

export const homePath = (home: string, file: keyof typeof HomeFile) => path.join(home, HomeFile[file])

/** The running agent's control socket in a home (`H/agent.sock`, mode 0600; see docs/CONTROL.md). */
export const agentSocketPath = (home: string) => path.join(home, CONTROL_SOCKET_FILE)

const noIdentity = (home: string) =>
  new CliFailure({
    code: ExitCode.State,
    message: `no identity in ${home}: create one with \`sixchat id new --home ${home} --handle you@your.domain\``
  })

export const readIdentityConfig = (home: string): Effect.Effect<IdentityConfig, CliFailure> =>
  Effect.suspend(() => {
    const file = homePath(home, "identity")
    if (!existsSync(file)) return Effect.fail(noIdentity(home))
    const decoded = Schema.decodeUnknownEither(IdentityConfigJson)(readFileSync(file, "utf8"))
    return Either.isLeft(decoded)
      ? Effect.fail(new CliFailure({ code: ExitCode.State, message: `${file} is damaged: ${decoded.left.message}` }))
      : Effect.succeed(decoded.right)
  })

export const writeIdentityConfig = (home: string, config: IdentityConfig) =>
  Effect.sync(() =>
    writeFileSync(homePath(home, "identity"), `${Schema.encodeSync(IdentityConfigJson)(config)}\n`, { mode: 0o644 })
  )

/** Our certificate chain (DER) once enrolled, else a failure saying how to enrol. */
export const readChain = (home: string) =>
  Effect.suspend(() => {
    const file = homePath(home, "cert")
    if (!existsSync(file))
      return Effect.fail(
        new CliFailure({
          code: ExitCode.State,
          message: `${home} is not enrolled yet: run \`sixchat id enroll --home ${home} --irp HOST:PORT --token TOKEN --trust CA.pem\``
        })
      )
    const chain = pemDecode(readFileSync(file, "utf8"), "CERTIFICATE")
    return chain.length === 0
      ? Effect.fail(new CliFailure({ code: ExitCode.State, message: `${file} holds no certificate` }))
      : Effect.succeed(chain)
  })

export const describeCertificate = (der: Uint8Array) => certificateIdentity(der)

/**
 * Replaces a file of the home atomically: the text goes to `FILE.tmp` (flushed to disk), which is then
 * renamed over `FILE`, so a crash leaves either the old or the new file, never half of one.
 */
export const replaceFileAtomically = (file: string, text: string, mode: number): void => {
  const tmp = `${file}.tmp`
  const fd = openSync(tmp, "w", mode)
  try {
    writeFileSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
}

/** `cert.pem` replaced atomically by `chain` (DER, leaf first): the agent's renewal (PROTOCOL.md 17.4.8). */
export const storeChain = (home: string, chain: ReadonlyArray<Uint8Array>): Effect.Effect<void, Error> =>
  Effect.try({
    try: () =>
      replaceFileAtomically(homePath(home, "cert"), chain.map((der) => pemEncode("CERTIFICATE", der)).join(""), 0o644),
    catch: (e) => new Error(`cannot write ${homePath(home, "cert")}: ${(e as Error).message}`)
  })
