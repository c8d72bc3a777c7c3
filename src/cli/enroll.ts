/**
 * `sixchat id enroll --home H --irp HOST[:PORT] --token T --trust CA.pem [--server-name NAME]` (IRP issue
 * sections 1 and 4): enrols the identity made by `id new` over an anonymous connection (PROTOCOL.md §17,
 * `Enroll`), checks the issued chain against the trust anchor and our key, and stores it in the home:
 * `cert.pem` (the chain, leaf first), `ca.pem` (the trust anchor) and, in `identity.json`, the IRP
 * address and the server name its certificate must carry (`irp.<domain>` unless `--server-name`).
 *
 * `--token -` reads the token from stdin, so it need not appear in the process list.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Either, Option } from "effect"
import { type Handle, handleDomain } from "../domain/brands.js"
import { makeLocalIdentity } from "../domain/handshake/identity.js"
import { pemDecode, pemEncode } from "../domain/pem.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import { createCsr } from "../layers/ca/csr.js"
import * as IrpClientLive from "../layers/irp/client/IrpClientLive.js"
import { CertVerifier } from "../services/CertVerifier.js"
import { cryptoSuite } from "../services/Crypto.js"
import { readAgentKey } from "./agentKey.js"
import { cryptoOption, readCertificates, stdoutLine } from "./common.js"
import { CliFailure, ExitCode, rejected, usage } from "./failure.js"
import { describeCertificate, homeOption, homePath, readIdentityConfig, writeIdentityConfig } from "./home.js"
import { clientFailure, clientLayer, defaultServerName, irpAddressArg, shownAddress } from "./irpSession.js"

/** The token from the option, or from the first line of stdin for `-`. */
const tokenText = (option: string): Effect.Effect<string, CliFailure> =>
  option !== "-"
    ? Effect.succeed(option.trim())
    : Effect.try({
        try: () => readFileSync(0, "utf8").split(/\r?\n/)[0]!.trim(),
        catch: () => usage("--token - reads the token from stdin, but stdin could not be read")
      })

/** The CSR `id new` wrote, or (if it is gone) a fresh one from the key. */
const csrOf = (home: string, handle: Handle, pkcs8: Uint8Array) =>
  Effect.suspend(() => {
    const file = homePath(home, "csr")
    const stored = existsSync(file) ? pemDecode(readFileSync(file, "utf8"), "CERTIFICATE REQUEST") : []
    return stored.length === 1
      ? Effect.succeed(stored[0]!)
      : Effect.mapError(
          createCsr({ handle, pkcs8 }),
          (e) => new CliFailure({ code: ExitCode.State, message: `cannot make a CSR from ${home}'s key: ${e.message}` })
        )
  })

/** Certificates as PEM into a file of the home (readable by all: they are public). */
const writeHomeFile = (file: string, ders: ReadonlyArray<Uint8Array>) =>
  Effect.try({
    try: () => writeFileSync(file, ders.map((der) => pemEncode("CERTIFICATE", der)).join(""), { mode: 0o644 }),
    catch: (e) => new CliFailure({ code: ExitCode.State, message: `cannot write ${file}: ${(e as Error).message}` })
  })

const enroll = Command.make(
  "enroll",
  {
    home: homeOption,
    irp: Options.text("irp").pipe(
      Options.withDescription("HOST[:PORT] of your domain's IRP server (port 4604 by default)")
    ),
    token: Options.text("token").pipe(
      Options.withDescription("the one-time enrolment token from the operator (- reads it from stdin)")
    ),
    trust: Options.file("trust", { exists: "yes" }).pipe(
      Options.withDescription("the domain's root certificate (ca.pem from the operator)")
    ),
    serverName: Options.text("server-name").pipe(
      Options.optional,
      Options.withDescription("the DNS name in the IRP server's certificate (default irp.<your domain>)")
    ),
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      const config = yield* readIdentityConfig(o.home)
      const pkcs8 = yield* readAgentKey(o.home)
      const csr = yield* csrOf(o.home, config.handle, pkcs8)
      const token = yield* tokenText(o.token)
      if (token === "") return yield* usage("--token is empty: paste the token the operator gave you")
      const anchors = yield* readCertificates([o.trust])
      const address = yield* irpAddressArg(o.irp)
      const serverName = Option.getOrElse(o.serverName, () => defaultServerName(config.handle))

      const verifier = yield* CertVerifierLive.make({ anchors }).pipe(
        Effect.mapError((e) => usage(`${o.trust} is not a usable trust anchor: ${e.message}`))
      )
      const issued = yield* Effect.scoped(
        Effect.flatMap(IrpClientLive.connect({ address, serverName, identity: null }), (client) =>
          client.enroll({ handle: config.handle, token, csr })
        )
      ).pipe(
        Effect.mapError(clientFailure),
        Effect.provideService(CertVerifier, verifier),
        Effect.provide(clientLayer(o.crypto))
      )

      // Store only a chain we can use: it verifies under the anchor, names our handle, and holds our key.
      const crypto = yield* cryptoSuite.pipe(Effect.provide(clientLayer(o.crypto)))
      if (Either.isLeft(makeLocalIdentity(crypto, pkcs8, issued.chain)))
        return yield* rejected(`the IRP server issued a certificate for another key: report this to the operator`)
      yield* verifier
        .verify({ chain: issued.chain, purpose: "client-auth", expectedHandle: config.handle })
        .pipe(
          Effect.mapError((e) =>
            rejected(
              `the issued certificate does not verify under ${o.trust} (${e.message}): report this to the operator`
            )
          )
        )

      yield* writeHomeFile(homePath(o.home, "cert"), issued.chain)
      yield* writeHomeFile(homePath(o.home, "ca"), anchors)
      yield* writeIdentityConfig(o.home, { ...config, irp: shownAddress(address), irpServerName: serverName })

      const leaf = describeCertificate(issued.chain[0]!)
      yield* stdoutLine(
        `enrolled ${config.handle} with ${serverName} (${shownAddress(address)}): serial ${issued.serial}, valid until ${new Date(issued.notAfter).toISOString()}`
      )
      if (leaf !== undefined) yield* stdoutLine(`fingerprint: ${leaf.fingerprint}`)
      // The agent registers itself (and renews its lease): starting it is the next step.
      yield* stdoutLine(
        `next: sixchat agent --home ${o.home}   (it registers with ${handleDomain(config.handle)}'s IRP server by itself)`
      )
    })
).pipe(Command.withDescription("enrol your identity with your domain's IRP server using a one-time token"))

export const enrollCommand = enroll
