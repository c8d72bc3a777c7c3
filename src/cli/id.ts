/**
 * `sixchat id new | show` (and `id enroll`, in `enroll.ts`): the user's identity home.
 */
import { hostname } from "node:os"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Option, Schema } from "effect"
import { Handle } from "../domain/brands.js"
import { newIdentity } from "../layers/ca/Identity.js"
import { Entropy } from "../services/Entropy.js"
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

/** A stable, readable device id: host name plus a random suffix. */
const deviceIdFor = (random: Uint8Array) => {
  const host =
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, "-")
      .slice(0, 40) || "device"
  return `${host}-${Buffer.from(random).toString("hex")}`
}

const idNew = Command.make(
  "new",
  {
    home: homeOption,
    handle: Options.text("handle").pipe(Options.withDescription("your handle, e.g. alice@example.org"))
  },
  (o) =>
    Effect.gen(function* () {
      const handle = yield* Schema.decodeUnknown(Handle)(o.handle).pipe(
        Effect.mapError(() => usage(`"${o.handle}" is not a handle like alice@example.org`))
      )
      const entropy = yield* Entropy
      const created = yield* newIdentity({ home: o.home, handle, entropy: entropy.bytes }).pipe(
        Effect.mapError(
          (e) =>
            new CliFailure({
              code: ExitCode.State,
              message:
                e.reason === "Exists"
                  ? `${o.home} already holds an identity key: use another --home, or keep using this one`
                  : e.message
            })
        )
      )
      yield* writeIdentityConfig(o.home, { version: 1, handle, deviceId: deviceIdFor(entropy.bytes(4)) })
      yield* stdoutLine(`created a key for ${handle} in ${created.keyPath} (mode 0600)`)
      yield* stdoutLine(`CSR: ${created.csrPath}`)
      yield* stdoutLine(
        `next: sixchat id enroll --home ${o.home} --irp HOST:PORT --token TOKEN --trust CA.pem   (ask your domain's operator for the token)`
      )
    })
).pipe(Command.withDescription("create a key pair and a CSR for a handle (the key file is 0600)"))

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

export const idCommands = [idNew, idShow] as const
