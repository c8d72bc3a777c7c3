/**
 * `sixchat domain show D [--dns IP:PORT] [--json]`: the IRP targets of domain D as DNS discovery
 * finds them (PROTOCOL.md §21), in the order an agent tries them: host, port, priority, weight,
 * addresses (AAAA first, then A), TTL, and whether they came from SRV or the `irp.D` fallback.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Option } from "effect"
import { type Discovery, type DiscoveryError, parseDnsServer, srvName } from "../domain/federation/discovery.js"
import * as DnsResolverLive from "../layers/federation/DnsResolverLive.js"
import { stdoutLine } from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"

const exitCode: Record<DiscoveryError["reason"], number> = {
  InvalidDomain: ExitCode.Usage,
  ServiceRefused: ExitCode.Rejected,
  NotFound: ExitCode.Rejected,
  NoAddress: ExitCode.Rejected,
  TooManyRecords: ExitCode.Rejected,
  Timeout: ExitCode.Unreachable,
  DnsFailure: ExitCode.Unreachable
}

const json = (d: Discovery) => ({
  domain: d.domain,
  source: d.source,
  ttlSeconds: d.ttl,
  targets: d.targets.map((t) => ({
    host: t.target,
    port: t.port,
    priority: t.priority,
    weight: t.weight,
    addresses: t.addresses,
    ttlSeconds: t.ttl
  }))
})

const show = Command.make(
  "show",
  {
    dns: Options.text("dns").pipe(
      Options.optional,
      Options.withDescription("the DNS server to ask, IP:PORT (default: SIXCHAT_DNS, else the system's)")
    ),
    json: Options.boolean("json").pipe(Options.withDescription("print one JSON object")),
    domain: Args.text({ name: "DOMAIN" }).pipe(Args.withDescription("the domain, e.g. other.net"))
  },
  (o) =>
    Effect.gen(function* () {
      const server = Option.getOrUndefined(o.dns)
      if (server !== undefined && parseDnsServer(server) === undefined)
        return yield* usage(`--dns "${server}" is not IP:PORT; write it as 127.0.0.1:53 or [::1]:53`)
      const resolver = yield* DnsResolverLive.make({ server }).pipe(
        Effect.mapError((e) => usage(`SIXCHAT_DNS is unusable: ${e.message}`))
      )
      const d = yield* resolver
        .discover(o.domain)
        .pipe(Effect.mapError((e) => new CliFailure({ code: exitCode[e.reason], message: e.message })))
      if (o.json) return yield* stdoutLine(JSON.stringify(json(d)))
      yield* stdoutLine(
        d.source === "srv"
          ? `${d.domain}: IRP found through SRV ${srvName(d.domain)} (answer valid ${d.ttl} s)`
          : `${d.domain}: no SRV record ${srvName(d.domain)}; IRP at the fallback ${d.targets[0]?.target} port ${d.targets[0]?.port} (answer valid ${d.ttl} s)`
      )
      for (const [i, t] of d.targets.entries())
        yield* stdoutLine(
          `  ${i + 1}. ${t.target} port ${t.port}  priority ${t.priority}  weight ${t.weight}  ttl ${t.ttl} s  addresses ${
            t.addresses.length === 0 ? "none (no AAAA or A record; skipped)" : t.addresses.join(" ")
          }`
        )
    })
).pipe(Command.withDescription("show the IRP a domain publishes in DNS (SRV _sixchat-irp._tcp, else irp.DOMAIN:4604)"))

export const domainCommand = Command.make("domain").pipe(
  Command.withDescription("other domains: how their IRP is found"),
  Command.withSubcommands([show])
)
