/**
 * `sixchat agent --home H [--listen HOST:PORT]... [--strict-keys] [--no-receipts] [--no-typing]
 * [--accept-files POLICY] [--irp HOST:PORT] [--max-handshakes N] [--max-handshakes-per-source N]
 * [--outbox-expiry DURATION] [--crypto node|noble]` (issue 4, section 1; the handshake caps: issue 10 §4): runs the
 * User Agent of an enrolled identity home until SIGINT/SIGTERM.
 *
 * * Loads the identity (`key.pem`, possibly passphrase-protected: `agentKey.ts`), the chain and the
 *   trust anchor; takes `H/agent.lock` so that a second agent on the same home refuses to start.
 * * Listens on `--listen` (default `[::]:4605` and `0.0.0.0:4605`; the IPv6 one is left out on a host
 *   without IPv6), keeps this device registered with the domain's IRP (`IrpPresence`), finds peers
 *   through it (`IrpDirectory`), stores everything in `H/agent.db`, receives files into `H/downloads`,
 *   and serves the control socket `H/agent.sock` (docs/CONTROL.md) for the people commands.
 * * Prints a few lines on stdout: listening, registered (and again when the addresses change),
 *   sessions coming and going with their session codes; warnings (NAT suspected, IRP
 *   unreachable, key changes) on stderr.
 * * On SIGINT/SIGTERM (`main.ts` interrupts the command): the control socket goes, every session gets
 *   `<Close/>`, the binding is deregistered, the database and the lock are released; exit code 0.
 */
import { networkInterfaces } from "node:os"
import * as path from "node:path"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import {
  Context,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Layer,
  Logger,
  LogLevel,
  Option,
  Scope,
  Stream
} from "effect"
import { type Address, formatAddress } from "../domain/brands.js"
import { makeLocalIdentity } from "../domain/handshake/identity.js"
import * as ControlServer from "../layers/agent/control/ControlServer.js"
import { defaultListenAddresses } from "../layers/agent/core/Listeners.js"
import { defaultAgentOptions } from "../layers/agent/core/options.js"
import { parseAcceptPolicy } from "../layers/agent/files/FileTransfers.js"
import * as IrpAgent from "../layers/agent/irp/IrpAgent.js"
import * as AgentStoreLive from "../layers/agent/store/AgentStoreLive.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import * as IrpClientLive from "../layers/irp/client/IrpClientLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import { Agent, type AgentEvent } from "../services/Agent.js"
import { cryptoSuite } from "../services/Crypto.js"
import { Presence, type PresenceEvent } from "../services/Presence.js"
import { tuneAgentHeap } from "./agentHeap.js"
import { readAgentKey } from "./agentKey.js"
import { lockHome } from "./agentLock.js"
import { cryptoLayer, cryptoOption, parseAddressArg, stderrLine, stdoutLine } from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"
import { agentSocketPath, homeOption, readChain, readIdentityConfig, storeChain } from "./home.js"
import { defaultServerName, irpAddressArg, irpOverrideOption, readAnchors } from "./irpSession.js"
import { addressInUse, isAddressInUse } from "./listenFailure.js"
import { domainKeyChangeLogLine, keyChangeLogLine } from "./people/keyChange.js"

const hasIpv6 = (): boolean =>
  Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === "IPv6") ?? false)

/** `--listen` values, or the defaults without the IPv6 one on a host that has no IPv6 at all. */
const listenAddresses = (given: ReadonlyArray<string>) =>
  given.length > 0
    ? Effect.forEach(given, parseAddressArg)
    : Effect.succeed(hasIpv6() ? defaultListenAddresses : defaultListenAddresses.filter((a) => !a.host.includes(":")))

/** Warnings and errors as one plain line on stderr (the agent's components log with `Effect.logWarning`). */
const plainLogger = Logger.make(({ logLevel, message }) => {
  const parts = (Array.isArray(message) ? message : [message]).filter((m): m is string => typeof m === "string")
  process.stderr.write(`${logLevel._tag === "Warning" ? "warning" : "error"}: ${parts.join(" ")}\n`)
})
const loggerLayer = Layer.merge(
  Logger.replace(Logger.defaultLogger, plainLogger),
  Logger.minimumLogLevel(LogLevel.Warning)
)

const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

/** What a person watching the agent's terminal wants to know about its registration. */
const presenceLine = (server: string) => {
  let shown = ""
  let failing = false
  return (event: PresenceEvent): Effect.Effect<void> => {
    switch (event._tag) {
      case "Registered": {
        const where = event.addresses.map(formatAddress).join(" ")
        const changed = where !== shown || failing
        shown = where
        failing = false
        return changed
          ? stdoutLine(
              `registered with ${server} at ${where} (lease until ${time(event.expiresAt)}, renewed automatically)`
            )
          : Effect.void
      }
      // IrpPresence logs these itself (one warning line each, on stderr).
      case "NatSuspected":
        return Effect.void
      case "RegistrationFailed":
        failing = true
        return Effect.void
      case "Deregistered":
        return stdoutLine(`deregistered from ${server}`)
    }
  }
}

const eventLine = (event: AgentEvent): Effect.Effect<void> => {
  switch (event._tag) {
    case "agent.SessionUp": {
      const s = event.session
      return stdoutLine(
        `session with ${s.peer} up (${s.role === "initiator" ? "we dialed" : "they dialed"} ${formatAddress(s.remote)}); session code ${s.sessionCode}`
      )
    }
    case "agent.SessionDown":
      return stdoutLine(`session with ${event.peer} ended (${event.reason})`)
    case "agent.KeyChanged":
      // Every key change, accepted or held (issue 10, section 3): never silent.
      return stderrLine(keyChangeLogLine(event.change))
    case "agent.DomainKeyChanged":
      // A foreign domain's CA changed (PROTOCOL.md §22.3.3): reported like a contact's key change.
      return stderrLine(domainKeyChangeLogLine(event.change))
    case "agent.MessageAdded":
      return event.message.direction === "in"
        ? stdoutLine(`message from ${event.message.peer} (${event.message.id})`)
        : Effect.void
    case "agent.TransferUpdated": {
      const t = event.transfer
      if (t.state !== "done") return Effect.void
      return t.direction === "in"
        ? stdoutLine(`file from ${t.peer} saved: ${t.finalPath ?? t.name} (${t.size} bytes, SHA-256 verified)`)
        : stdoutLine(`file ${t.name} delivered to ${t.peer} (${t.size} bytes)`)
    }
    default:
      return Effect.void
  }
}

/** `--outbox-expiry`: `90s`, `30m`, `12h`, `7d` (plain digits are seconds); milliseconds, or undefined. */
export const parseExpiry = (text: string): number | undefined => {
  const m = /^(\d{1,7})(s|m|h|d)?$/.exec(text.trim())
  if (m === null || Number(m[1]) === 0) return undefined
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "s") as "s" | "m" | "h" | "d"]
  return Number(m[1]) * unit
}

const startFailure = (e: { readonly _tag: string; readonly message: string; readonly reason?: string }) =>
  isAddressInUse(e)
    ? addressInUse(e, "agent")
    : new CliFailure({
        code: e._tag === "TransportError" ? ExitCode.Usage : ExitCode.State,
        message: `the agent cannot start: ${e.message}`
      })

const agent = Command.make(
  "agent",
  {
    home: homeOption,
    listen: Options.text("listen").pipe(
      Options.repeated,
      Options.withDescription("HOST:PORT to accept peers on (repeatable; default [::]:4605 and 0.0.0.0:4605)")
    ),
    strictKeys: Options.boolean("strict-keys").pipe(
      Options.withDescription("refuse a contact whose key changed until you accept it with `sixchat trust HANDLE`")
    ),
    noReceipts: Options.boolean("no-receipts").pipe(Options.withDescription("do not send read receipts")),
    noTyping: Options.boolean("no-typing").pipe(Options.withDescription("do not send or show typing notices")),
    acceptFiles: Options.text("accept-files").pipe(
      Options.withDefault("4GiB"),
      Options.withDescription(
        "files accepted without asking: never, always (anyone, any size), a size such as 500M or 4GiB from people you have written to or verified, or anyone:SIZE from anyone in the domain"
      )
    ),
    irp: irpOverrideOption,
    maxHandshakes: Options.integer("max-handshakes").pipe(
      Options.withDefault(defaultAgentOptions.maxHandshakes),
      Options.withDescription("connections in their handshake at once (PROTOCOL.md 15.7; default 64)")
    ),
    maxHandshakesPerSource: Options.integer("max-handshakes-per-source").pipe(
      Options.withDefault(defaultAgentOptions.maxHandshakesPerSource),
      Options.withDescription("of those, from one IPv4 address or IPv6 /64 (default 8)")
    ),
    outboxExpiry: Options.text("outbox-expiry").pipe(
      Options.withDefault("7d"),
      Options.withDescription(
        "give up a message or file offer not delivered within DURATION (90s, 30m, 12h, 7d; default 7d): it shows as failed"
      )
    ),
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      const config = yield* readIdentityConfig(o.home)
      const chain = yield* readChain(o.home)
      const anchors = yield* readAnchors(o.home)
      const irpText = Option.getOrElse(o.irp, () => config.irp)
      if (irpText === undefined)
        return yield* new CliFailure({
          code: ExitCode.State,
          message: `${o.home} has no IRP server address: enrol first (\`sixchat id enroll\`), or give --irp HOST:PORT`
        })
      const irp = yield* irpAddressArg(irpText)
      const serverName = config.irpServerName ?? defaultServerName(config.handle)
      const listen: ReadonlyArray<Address> = yield* listenAddresses(o.listen)
      if (o.maxHandshakes < 1 || o.maxHandshakesPerSource < 1)
        return yield* usage("--max-handshakes and --max-handshakes-per-source take a number of at least 1")
      const outboxExpiryMs = parseExpiry(o.outboxExpiry)
      if (outboxExpiryMs === undefined)
        return yield* usage(
          `--outbox-expiry "${o.outboxExpiry}" is not a duration such as 90s, 30m, 12h or 7d (more than zero)`
        )
      const acceptPolicy = parseAcceptPolicy(o.acceptFiles)
      if (acceptPolicy === undefined)
        return yield* usage(
          `--accept-files "${o.acceptFiles}" is not always, never, a size such as 500M, or anyone:500M`
        )

      yield* lockHome(o.home)
      tuneAgentHeap()
      const pkcs8 = yield* readAgentKey(o.home)
      const identity = yield* Either.match(makeLocalIdentity(yield* cryptoSuite, pkcs8, chain), {
        onLeft: (m) =>
          Effect.fail(new CliFailure({ code: ExitCode.State, message: `key.pem and cert.pem of ${o.home}: ${m}` })),
        onRight: Effect.succeed
      })

      const layer = IrpAgent.layer({
        handle: config.handle,
        identity,
        credentials: { pkcs8, chain },
        deviceId: config.deviceId,
        irp: { address: irp, serverName },
        listen,
        options: {
          strictKeys: o.strictKeys,
          receipts: !o.noReceipts,
          typing: !o.noTyping,
          maxHandshakes: o.maxHandshakes,
          maxHandshakesPerSource: o.maxHandshakesPerSource,
          outboxExpiry: Duration.millis(outboxExpiryMs)
        },
        downloadsDir: path.join(o.home, "downloads"),
        acceptPolicy,
        // PROTOCOL.md 17.4.8: renewed at 2/3 of its lifetime, stored in the home before it is used.
        renewal: {
          store: (next) => storeChain(o.home, next),
          onRenewed: (serial, notAfter) =>
            stdoutLine(
              `certificate renewed: serial ${serial}, valid until ${notAfter.toISOString()} (cert.pem updated)`
            )
        }
      }).pipe(
        Layer.provide(AgentStoreLive.layer(path.join(o.home, AgentStoreLive.DATABASE_FILE))),
        Layer.provide(IrpClientLive.layer),
        Layer.provide(CertVerifierLive.layer({ anchors })),
        Layer.provide(TcpTransport.layer)
      )
      // Scopes close in reverse: the agent (sessions, binding) before the printer, which so still
      // reports the deregistration.
      const outer = yield* Effect.scope
      const printing = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      const agentScope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      const context = yield* Effect.mapError(Layer.buildWithScope(layer, agentScope), startFailure)
      const running = Context.get(context, Agent)
      const presence = Context.get(context, Presence)
      const status = yield* Effect.mapError(running.status, startFailure)

      yield* stdoutLine(`agent for ${config.handle} (device ${config.deviceId}), home ${o.home}`)
      yield* stdoutLine(`listening on ${status.listening.map(formatAddress).join(" ")}`)
      const socketPath = agentSocketPath(o.home)
      yield* ControlServer.make({ socketPath }).pipe(
        Effect.provideService(Agent, running),
        Effect.mapError((e) => new CliFailure({ code: ExitCode.State, message: e.message }))
      )
      yield* stdoutLine(`control socket ${socketPath} (sixchat send/chat/history/status --home ${o.home})`)
      yield* Effect.forkIn(Stream.runForEach(presence.events, presenceLine(serverName)), printing)
      yield* Effect.forkScoped(Stream.runForEach(running.events, eventLine))
      // Finalizers run in reverse: this line comes first, then the socket, sessions, binding, database.
      yield* Effect.addFinalizer(() => stdoutLine("stopping: closing sessions and deregistering"))
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      Effect.onInterrupt(() => stdoutLine("agent stopped")),
      Effect.provide(Layer.merge(cryptoLayer(o.crypto), loggerLayer))
    )
).pipe(
  Command.withDescription(
    "run your agent: keeps you registered with your IRP, connects you directly to the people you write to, and serves the local control socket"
  )
)

export const agentCommand = agent
