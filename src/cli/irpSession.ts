/**
 * What the user-side IRP commands share (`id enroll`, `register`, `lookup`, `revoke`): the IRP address
 * argument, reading our key (plain or passphrase-protected: `agentKey.ts`), chain and trust anchor from
 * the identity home, connecting to the domain's IRP server, and turning every client failure into one
 * line with a distinct exit code (`failure.ts`).
 */
import { existsSync, readFileSync } from "node:fs"
import * as Options from "@effect/cli/Options"
import { Effect, Layer, Option, type Scope } from "effect"
import { type Address, formatAddress, type Handle, handleDomain, parseAddress } from "../domain/brands.js"
import type { IdentityConfig } from "../domain/home/identityHome.js"
import { pemDecode } from "../domain/pem.js"
import { DEFAULT_IRP_PORT } from "../domain/pki/config.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import * as IrpClientLive from "../layers/irp/client/IrpClientLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import { CertVerifier } from "../services/CertVerifier.js"
import type { IrpClient, IrpClientError } from "../services/IrpClient.js"
import { readAgentKey } from "./agentKey.js"
import { cryptoLayer } from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"
import { homePath, readChain, readIdentityConfig } from "./home.js"

/** `HOST[:PORT]` or `[V6][:PORT]`, the port defaulting to 4604. */
export const parseIrpAddress = (text: string): Address | undefined =>
  parseAddress(text) ??
  (/^\[[0-9A-Fa-f:.]+\]$/.test(text)
    ? parseAddress(`${text}:${DEFAULT_IRP_PORT}`)
    : /^[^:[\]\s]+$/.test(text)
      ? parseAddress(`${text}:${DEFAULT_IRP_PORT}`)
      : undefined)

export const irpAddressArg = (text: string): Effect.Effect<Address, CliFailure> => {
  const address = parseIrpAddress(text)
  return address === undefined
    ? Effect.fail(usage(`"${text}" is not HOST[:PORT] (write IPv6 as [2001:db8::1]:4604)`))
    : Effect.succeed(address)
}

/** `--irp` on the commands that use a stored address: overrides what `id enroll` stored. */
export const irpOverrideOption = Options.text("irp").pipe(
  Options.optional,
  Options.withDescription("HOST[:PORT] of the IRP server (default: the one `id enroll` stored)")
)

/** The DNS name the IRP server's certificate must carry: `irp.<domain of the handle>` unless told. */
export const defaultServerName = (handle: Handle): string => `irp.${handleDomain(handle)}`

/** Maps a client failure to the exit code its kind calls for; the message already says what to do. */
export const clientFailure = (e: IrpClientError): CliFailure => {
  switch (e.reason) {
    case "Unreachable":
    case "Timeout":
    // PROTOCOL.md §22.6: the home IRP could not reach the other domain's in time.
    case "federation_unavailable":
      return new CliFailure({ code: ExitCode.Unreachable, message: e.message })
    case "Identity":
      return new CliFailure({ code: ExitCode.State, message: e.message })
    case "rate_limited":
      return new CliFailure({
        code: ExitCode.Rejected,
        message:
          e.retryAfterMs === undefined
            ? e.message
            : `${e.message} (retry in ${Math.max(1, Math.ceil(e.retryAfterMs / 1000))} s)`
      })
    default:
      return new CliFailure({ code: ExitCode.Rejected, message: e.message })
  }
}

/** The transport and crypto the client needs (Entropy comes from `main.ts`). */
export const clientLayer = (crypto: "node" | "noble") => Layer.merge(TcpTransport.layer, cryptoLayer(crypto))

/** The trust anchor stored by `id enroll` (`ca.pem`). */
export const readAnchors = (home: string): Effect.Effect<ReadonlyArray<Uint8Array>, CliFailure> =>
  Effect.suspend(() => {
    const file = homePath(home, "ca")
    const anchors = existsSync(file) ? pemDecode(readFileSync(file, "utf8"), "CERTIFICATE") : []
    return anchors.length > 0
      ? Effect.succeed(anchors)
      : Effect.fail(
          new CliFailure({
            code: ExitCode.State,
            message: `${file} is missing or holds no certificate: enrol again with \`sixchat id enroll --home ${home} … --trust CA.pem\``
          })
        )
  })

export interface HomeSession {
  readonly config: IdentityConfig
  readonly chain: ReadonlyArray<Uint8Array>
  readonly anchors: ReadonlyArray<Uint8Array>
  readonly address: Address
  readonly client: IrpClient
}

/** Connects to the home's IRP server with the home's identity (one round trip proves it is accepted). */
export const connectFromHome = (
  home: string,
  override: Option.Option<string>
): Effect.Effect<HomeSession, CliFailure, Scope.Scope | Exclude<IrpClientLive.ClientRequirements, CertVerifier>> =>
  Effect.gen(function* () {
    const config = yield* readIdentityConfig(home)
    const chain = yield* readChain(home)
    const pkcs8 = yield* readAgentKey(home)
    const anchors = yield* readAnchors(home)
    const text = Option.getOrElse(override, () => config.irp)
    if (text === undefined)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `${home} has no IRP server address: give --irp HOST:PORT, or enrol with \`sixchat id enroll\``
      })
    const address = yield* irpAddressArg(text)
    const verifier = yield* CertVerifierLive.make({ anchors }).pipe(
      Effect.mapError(
        (e) =>
          new CliFailure({
            code: ExitCode.State,
            message: `The trust anchor of ${home} is not usable (${e.message}): put the domain's ca.pem there again`
          })
      )
    )
    const client = yield* IrpClientLive.connect({
      address,
      serverName: config.irpServerName ?? defaultServerName(config.handle),
      identity: { pkcs8, chain }
    }).pipe(Effect.provideService(CertVerifier, verifier), Effect.mapError(clientFailure))
    return { config, chain, anchors, address, client }
  })

/** `host:port` as we print and store it. */
export const shownAddress = (address: Address): string => formatAddress(address)
