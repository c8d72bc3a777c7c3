/**
 * Pieces shared by commands: the crypto provider flag, PEM files, addresses, stdin lines.
 */
import { readFileSync } from "node:fs"
import * as Readline from "node:readline"
import * as Options from "@effect/cli/Options"
import { Config, Effect, Either, Stream } from "effect"
import { type Address, parseAddress } from "../domain/brands.js"
import type { ProviderName } from "../domain/crypto/primitives.js"
import { makeLocalIdentity } from "../domain/handshake/identity.js"
import type { LocalIdentity } from "../domain/handshake/parameters.js"
import { pemDecode } from "../domain/pem.js"
import * as CryptoLive from "../layers/crypto/CryptoLive.js"
import { cryptoSuite } from "../services/Crypto.js"
import { readKeyFile } from "./agentKey.js"
import { usage } from "./failure.js"

/** `--crypto node|noble`, falling back to `SIXCHAT_CRYPTO`, default node. */
export const cryptoOption = Options.choice("crypto", ["node", "noble"]).pipe(
  Options.withFallbackConfig(Config.literal("node", "noble")("SIXCHAT_CRYPTO")),
  Options.withDefault("node" as const),
  Options.withDescription("crypto provider: node (OpenSSL, default) or noble (audited pure JS); env SIXCHAT_CRYPTO")
)

export const cryptoLayer = (name: ProviderName) => CryptoLive.layerFor(name)

export const readText = (path: string) =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (e) => usage(`cannot read ${path}: ${(e as Error).message}`)
  })

/** Every certificate (DER) in the given PEM files, in order. */
export const readCertificates = (paths: ReadonlyArray<string>) =>
  Effect.forEach(paths, (path) =>
    Effect.flatMap(readText(path), (text) => {
      const certs = pemDecode(text, "CERTIFICATE")
      return certs.length === 0 ? Effect.fail(usage(`${path} holds no PEM certificate`)) : Effect.succeed(certs)
    })
  ).pipe(Effect.map((all) => all.flat()))

/** Our identity from a PEM key (plain or passphrase-protected: `agentKey.ts`) and a PEM chain (leaf first). */
export const loadIdentity = (keyPath: string, certPath: string) =>
  Effect.gen(function* () {
    const key = yield* readKeyFile(keyPath, "give the private key file of the certificate with --key")
    const chain = yield* readCertificates([certPath])
    const crypto = yield* cryptoSuite
    const identity = makeLocalIdentity(crypto, key.pkcs8, chain)
    return Either.isLeft(identity)
      ? yield* usage(`${keyPath} / ${certPath}: ${identity.left}`)
      : (identity.right as LocalIdentity)
  })

export const parseAddressArg = (text: string): Effect.Effect<Address, ReturnType<typeof usage>> => {
  const address = parseAddress(text)
  return address === undefined
    ? Effect.fail(usage(`"${text}" is not HOST:PORT (write IPv6 as [::1]:4605)`))
    : Effect.succeed(address)
}

/** Lines of standard input; ends at EOF. */
export const stdinLines: Stream.Stream<string> = Stream.async<string>((emit) => {
  const rl = Readline.createInterface({ input: process.stdin, terminal: false })
  rl.on("line", (line) => void emit.single(line))
  rl.on("close", () => void emit.end())
  return Effect.sync(() => rl.close())
})

export const stderrLine = (line: string) => Effect.sync(() => process.stderr.write(`${line}\n`))
export const stdoutLine = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))
