/**
 * `sixchat irp serve --dir DIR [--listen HOST:PORT]... [--db sqlite:PATH|postgres://…] [--log-format text|json]`
 * `[--max-handshakes N] [--max-handshakes-per-source N]` (the handshake caps: issue 10 §4, PROTOCOL.md §17.1.7)
 * (IRP issue section 4): runs the domain's IRP server until SIGINT/SIGTERM.
 *
 * * Listens where `--listen` says, else where `irp.json` says (`[::]:4604` and `0.0.0.0:4604` by default;
 *   the IPv6 one is left out, with a warning, on a host without IPv6). Port 0 picks a free port.
 * * Prints `listening on ADDR` on stderr for each bound address (scripts and tests read the real port
 *   there), then one log line per request on stderr (`serverLog.ts`).
 * * Storage: `--db`, else `irp.json`'s `db` (set by `irp init --db`; default the SQLite file in DIR); a PostgreSQL URL may name a schema with
 *   `?schema=NAME` (see `irpAdmin.databaseFor`). Several servers may share one PostgreSQL database.
 * * On SIGINT/SIGTERM `main.ts` interrupts this command: the server's scope closes, so it stops listening,
 *   ends every connection with `<Close/>`, closes the database, and the process exits 0.
 */
import { networkInterfaces } from "node:os"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import { type Address, formatAddress } from "../domain/brands.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import * as CertificateAuthorityLive from "../layers/ca/CertificateAuthority.js"
import { CertificateAuthority } from "../layers/ca/CertificateAuthority.js"
import * as IrpServerLive from "../layers/irp/server/IrpServerLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import { IrpRegistry } from "../services/IrpRegistry.js"
import { IrpServerError } from "../services/IrpServer.js"
import { cryptoLayer, cryptoOption, parseAddressArg } from "./common.js"
import { CliFailure, ExitCode } from "./failure.js"
import { databaseFor, dbOption, dirOption, loadDomainOrFail, registryLayer, shownDatabase } from "./irpAdmin.js"
import { checkDnsServer, withFederation } from "./irpFederation.js"
import { addressInUse, isAddressInUse } from "./listenFailure.js"
import * as ServerLog from "./serverLog.js"

/** How often expired bindings (past their retention) and used or expired tokens are deleted. */
const HOUSEKEEPING_EVERY = Duration.hours(1)

const hasIpv6 = (): boolean =>
  Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === "IPv6") ?? false)

/** `--listen` values, or the configured ones without IPv6 ones on a host that has no IPv6 at all. */
const listenAddresses = (
  given: ReadonlyArray<string>,
  configured: ReadonlyArray<string>,
  format: ServerLog.LogFormat
) =>
  Effect.gen(function* () {
    if (given.length > 0) return yield* Effect.forEach(given, parseAddressArg)
    const all: Array<Address> = yield* Effect.forEach(configured, (text) =>
      Effect.mapError(
        parseAddressArg(text),
        () =>
          new CliFailure({
            code: ExitCode.State,
            message: `irp.json lists "${text}" to listen on, which is not HOST:PORT: fix it or give --listen`
          })
      )
    )
    if (hasIpv6()) return all
    const ipv4 = all.filter((a) => !a.host.includes(":"))
    if (ipv4.length > 0 && ipv4.length < all.length)
      yield* ServerLog.statusLine(
        format,
        "this host has no IPv6 address: listening on the IPv4 addresses of irp.json only",
        {},
        "warning"
      )
    return ipv4.length > 0 ? ipv4 : all
  })

const serverFailure = (e: { readonly reason: string; readonly message: string; readonly cause?: unknown }) =>
  e.reason === "Listen" && isAddressInUse(e.cause)
    ? addressInUse(e.cause, "IRP server")
    : new CliFailure({
        code: ExitCode.State,
        message:
          e.reason === "Listen"
            ? e.message
            : e.reason === "Identity"
              ? `${e.message} (the domain directory is damaged: restore it from its backup)`
              : e.reason === "Federation"
                ? e.message
                : `${e.message}; check that the database is reachable`
      })

const serve = Command.make(
  "serve",
  {
    dir: dirOption,
    listen: Options.text("listen").pipe(
      Options.repeated,
      Options.withDescription("HOST:PORT to listen on (repeatable; default from irp.json: [::]:4604 and 0.0.0.0:4604)")
    ),
    db: dbOption,
    logFormat: Options.choice("log-format", ServerLog.LOG_FORMATS).pipe(
      Options.withDefault("text" as ServerLog.LogFormat),
      Options.withDescription("request log on stderr: text (key=value) or json (one object per line)")
    ),
    verbose: Options.boolean("verbose").pipe(
      Options.withDescription("also log failed handshakes and ended connections")
    ),
    lookupCache: Options.integer("lookup-cache").pipe(
      Options.withDefault(0),
      Options.withDescription(
        "keep up to N Lookup answers in memory (default 0: off); worth it when lookups repeat (docs/DECISIONS.md)"
      )
    ),
    maxHandshakes: Options.integer("max-handshakes").pipe(
      Options.withDefault(IrpServerLive.defaultPolicy.maxHandshakes),
      Options.withDescription("connections in their handshake at once (PROTOCOL.md 17.1.7; default 256)")
    ),
    maxHandshakesPerSource: Options.integer("max-handshakes-per-source").pipe(
      Options.withDefault(IrpServerLive.defaultPolicy.maxHandshakesPerSource),
      Options.withDescription("of those, from one IPv4 address or IPv6 /64 (default 32)")
    ),
    dns: Options.text("dns").pipe(
      Options.optional,
      Options.withDescription(
        "the DNS server that finds other domains' IRPs, IP:PORT (default: SIXCHAT_DNS, else the system's)"
      )
    ),
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      const dnsServer = yield* checkDnsServer(o.dns)
      const domain = yield* loadDomainOrFail(o.dir)
      const listen = yield* listenAddresses(o.listen, domain.config.listen, o.logFormat)
      const spec = yield* databaseFor(o.dir, domain, o.db)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const registry = Context.get(yield* Layer.build(registryLayer(spec)), IrpRegistry)
          const ca = yield* CertificateAuthorityLive.make(domain)
          if (o.lookupCache < 0 || o.lookupCache > 10_000_000)
            return yield* new CliFailure({
              code: ExitCode.Usage,
              message: "--lookup-cache takes 0 to 10000000 entries"
            })
          if (o.maxHandshakes < 1 || o.maxHandshakesPerSource < 1)
            return yield* new CliFailure({
              code: ExitCode.Usage,
              message: "--max-handshakes and --max-handshakes-per-source take a number of at least 1"
            })
          const server = yield* withFederation(
            domain,
            dnsServer,
            IrpServerLive.make({
              domain,
              listen,
              policy: {
                lookupCacheEntries: o.lookupCache,
                maxHandshakes: o.maxHandshakes,
                maxHandshakesPerSource: o.maxHandshakesPerSource
              }
            })
          ).pipe(
            Effect.provideService(IrpRegistry, registry),
            Effect.provideService(CertificateAuthority, ca),
            Effect.provide(
              CertVerifierLive.layer({ anchors: [domain.rootCertificate] }).pipe(
                Layer.mapError(
                  (e) =>
                    new IrpServerError({
                      reason: "Identity",
                      message: `The root certificate is unusable: ${e.message}`
                    })
                )
              )
            ),
            Effect.mapError(serverFailure)
          )
          const status = (text: string, fields: Record<string, unknown> = {}) =>
            ServerLog.statusLine(o.logFormat, text, fields)
          yield* status(
            `irp server for ${domain.config.domain} (${domain.config.serverName}), ${shownDatabase(spec)}`,
            {
              domain: domain.config.domain,
              serverName: domain.config.serverName,
              database: shownDatabase(spec)
            }
          )
          const addresses = server.addresses.map(formatAddress)
          for (const address of addresses) yield* status(`listening on ${address}`, { address })
          // Readiness: in JSON mode one record a supervisor can wait for.
          if (o.logFormat === "json") yield* status("ready", { addresses })
          yield* Clock.currentTimeMillis.pipe(
            Effect.flatMap(registry.purgeExpired),
            Effect.flatMap(({ bindings, tokens }) =>
              bindings + tokens === 0
                ? Effect.void
                : Effect.logInfo("irp housekeeping").pipe(Effect.annotateLogs({ bindings, tokens }))
            ),
            Effect.catchAll((e) => Effect.logWarning(`irp housekeeping failed: ${e.message}`)),
            Effect.repeat(Schedule.spaced(HOUSEKEEPING_EVERY)),
            Effect.forkScoped
          )
          yield* Effect.addFinalizer(() => status("stopping: closing connections and the database"))
          return yield* Effect.never
        })
      ).pipe(
        Effect.provide(Layer.mergeAll(TcpTransport.layer, cryptoLayer(o.crypto))),
        Effect.provide(ServerLog.layer(o.logFormat, o.verbose))
      )
    }).pipe(Effect.mapError((e) => (o.logFormat === "json" ? ServerLog.reportFailure(e) : e)))
).pipe(Command.withDescription("run the domain's IRP server (registry and certificate authority) until interrupted"))

export const irpServeCommand = serve
