/**
 * `sixchat domain show D [--dns IP:PORT] [--json]`: the IRP targets of domain D as DNS discovery
 * finds them (PROTOCOL.md §21), in the order an agent tries them: host, port, priority, weight,
 * addresses (AAAA first, then A), TTL, and whether they came from SRV or the `irp.D` fallback.
 *
 * With `--home H` (a running agent), also what the agent's IRP relays about D (PROTOCOL.md §22.3, §22.4:
 * the control method `domainInfo`): D's federation policy and the CA of D this agent has pinned
 * (fingerprint, subject, first seen; pinned now if it was not yet, a change shown as such). Without
 * `--home` it asks DNS only and needs no agent. A `federation_refused` answer exits 1 with the IRP's
 * sentence, `federation_unavailable` 3.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Either, Option, Schema } from "effect"
import { DomainName } from "../domain/agent/domainRoots.js"
import type { DomainInfoResult } from "../domain/agent/rpc.js"
import { type Discovery, type DiscoveryError, parseDnsServer, srvName } from "../domain/federation/discovery.js"
import * as DnsResolverLive from "../layers/federation/DnsResolverLive.js"
import { stdoutLine } from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"
import { withAgent } from "./people/agent.js"
import { dateTime, groupedHex } from "./people/format.js"

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

const pinJson = (info: DomainInfoResult) => ({
  policy: info.policy,
  pinnedCa:
    info.pin === null
      ? null
      : {
          fingerprint: info.pin.fingerprint,
          subject: info.pin.subject,
          firstSeen: new Date(info.pin.firstSeen).toISOString(),
          changedAt: info.pin.changedAt === null ? null : new Date(info.pin.changedAt).toISOString(),
          previous: info.pin.previous,
          held: info.pin.pendingChange?.current ?? null
        },
  message: info.message
})

const pinLines = (info: DomainInfoResult): ReadonlyArray<string> => [
  `${info.domain}: federation policy ${info.policy} (as its IRP states it, relayed by yours)`,
  ...(info.pin === null
    ? []
    : [
        `  pinned CA:   ${groupedHex(info.pin.fingerprint)} (SHA-256)`,
        `  subject:     ${info.pin.subject}`,
        `  first seen:  ${dateTime(info.pin.firstSeen)}`,
        ...(info.pin.changedAt === null ? [] : [`  changed:     ${dateTime(info.pin.changedAt)}`]),
        ...(info.pin.pendingChange === null
          ? []
          : [`  held:        ${groupedHex(info.pin.pendingChange.current)} (sixchat trust @${info.domain} accepts it)`])
      ]),
  `  ${info.message}`
]

/** The agent's part of `domain show D --home H`: what its IRP relays about D, and its pin of D's CA. */
export const askAgent = (home: string, domainText: string) =>
  Effect.gen(function* () {
    const domain = domainText.trim().toLowerCase().replace(/\.$/, "")
    if (!Schema.is(DomainName)(domain)) return yield* usage(`"${domainText}" is not a domain name like other.net`)
    // PROTOCOL.md §22.3.3: the agent asks its IRP (relayed) and observes the root like any it is given.
    return yield* withAgent(home, (client) => client.call("domainInfo", { domain }))
  })

export const agentLines = pinLines

const show = Command.make(
  "show",
  {
    dns: Options.text("dns").pipe(
      Options.optional,
      Options.withDescription("the DNS server to ask, IP:PORT (default: SIXCHAT_DNS, else the system's)")
    ),
    json: Options.boolean("json").pipe(Options.withDescription("print one JSON object")),
    home: Options.text("home").pipe(
      Options.optional,
      Options.withDescription("also ask the agent running in this home: D's policy and the CA of D it pinned")
    ),
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
      const discovered = yield* resolver.discover(o.domain).pipe(
        Effect.mapError((e) => new CliFailure({ code: exitCode[e.reason], message: e.message })),
        Effect.either
      )
      const home = Option.getOrUndefined(o.home)
      const domain = o.domain.trim().toLowerCase().replace(/\.$/, "")
      const info = home === undefined ? undefined : yield* askAgent(home, o.domain)
      if (o.json)
        return yield* Either.match(discovered, {
          onLeft: (e) =>
            info === undefined
              ? Effect.fail(e)
              : Effect.zipRight(
                  stdoutLine(JSON.stringify({ domain, ...pinJson(info), dnsError: e.message })),
                  Effect.fail(e)
                ),
          onRight: (d) => stdoutLine(JSON.stringify(info === undefined ? json(d) : { ...json(d), ...pinJson(info) }))
        })
      if (info !== undefined) for (const line of pinLines(info)) yield* stdoutLine(line)
      const d = yield* discovered
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
).pipe(
  Command.withDescription(
    "show the IRP a domain publishes in DNS (SRV _sixchat-irp._tcp, else irp.DOMAIN:4604); with --home, also its policy and the CA your agent pinned"
  )
)

export const domainCommand = Command.make("domain").pipe(
  Command.withDescription("other domains: how their IRP is found"),
  Command.withSubcommands([show])
)
