/**
 * The checks of `sixchat doctor` that talk to something (issue 13 §5): the running agent (its control
 * socket), the IRP named in the home (connect and handshake, bounded in time), the clock against the
 * IRP's, and the registration: registered against observed address and the NAT warning, as `status`
 * shows them when an agent runs, else what the IRP holds for this device.
 */
import { Clock, Duration, Effect, Option, Schema, type Scope } from "effect"
import { type Address, formatAddress } from "../../domain/brands.js"
import { parseStaple } from "../../domain/cert/staple.js"
import type { IdentityConfig } from "../../domain/home/identityHome.js"
import { SerialHex } from "../../domain/irp/certificates.js"
import * as ControlClient from "../../layers/agent/control/ControlClient.js"
import * as CertVerifierLive from "../../layers/CertVerifierLive.js"
import * as IrpClientLive from "../../layers/irp/client/IrpClientLive.js"
import type { AgentStatus } from "../../services/Agent.js"
import { CertVerifier } from "../../services/CertVerifier.js"
import type { IrpClient } from "../../services/IrpClient.js"
import { readAgentKey } from "../agentKey.js"
import { agentSocketPath, describeCertificate } from "../home.js"
import { defaultServerName, irpAddressArg } from "../irpSession.js"
import { type Check, fail, ok, skipped, warn } from "./check.js"

/** Every wait of doctor on the network: connect + handshake, then each request. */
export const IRP_TIMEOUT = Duration.seconds(5)
/** The clock may differ this much from the IRP's without a warning. */
const SKEW_OK_MS = 5_000
/** Beyond this, stapled statuses look "not yet valid" to peers (PROTOCOL.md 13.6.2 allows 60 s). */
const SKEW_FAIL_MS = 60_000

const list = (addresses: ReadonlyArray<unknown>) =>
  addresses.length === 0 ? "none" : addresses.map((a) => formatAddress(a as Address)).join(", ")

/** Asks the home's agent for its status; `undefined` (with the check) when none answers. */
export const agentCheck = (
  home: string
): Effect.Effect<{ readonly check: Check; readonly status: AgentStatus | undefined }, never, Scope.Scope> =>
  ControlClient.connect(agentSocketPath(home)).pipe(
    Effect.flatMap((client) => client.call("status", {})),
    Effect.timeoutFail({ duration: IRP_TIMEOUT, onTimeout: () => ({ reason: "Timeout" as const, message: "" }) }),
    Effect.match({
      onSuccess: (status) => ({
        check: ok("agent", `running for ${status.handle}, listening on ${list(status.listening)}`),
        status
      }),
      onFailure: (e) => ({
        check:
          e.reason === "NoAgent"
            ? warn("agent", `no agent is running: messages wait until you start \`sixchat agent --home ${home}\``)
            : fail(
                "agent",
                `${agentSocketPath(home)} does not answer (${e.reason}): stop the stuck agent, then start it again`
              ),
        status: undefined
      })
    })
  )

/** Registration as the running agent sees it (what `sixchat status` shows). */
export const registrationFromAgent = (status: AgentStatus): Check => {
  if (status.natSuspected !== undefined)
    return warn(
      "registration",
      `registered at ${list(status.registered)}, but the IRP saw this agent from ${formatAddress(status.natSuspected)}: a NAT is likely in the way, so peers may not reach you (use IPv6 or a public address with --listen)`
    )
  if (status.registered.length === 0)
    return warn("registration", "the agent is not registered with the IRP: peers cannot find it; see the agent's log")
  const until =
    status.registrationExpiresAt === undefined ? "" : ` until ${new Date(status.registrationExpiresAt).toISOString()}`
  return ok("registration", `registered at ${list(status.registered)}${until}; the IRP sees the same address`)
}

/** What the IRP holds for this device when no agent runs (no registration is made: that would move the lease). */
const registrationWithoutAgent = (home: string, config: IdentityConfig, client: IrpClient, now: number) =>
  client.lookup(config.handle).pipe(
    Effect.map((record) => {
      const mine = record.bindings.find((b) => b.deviceId === config.deviceId)
      return mine === undefined || mine.expiresAt <= now
        ? warn(
            "registration",
            `this device is not registered and no agent runs: start \`sixchat agent --home ${home}\` (it registers, and reports the observed address and a NAT)`
          )
        : warn(
            "registration",
            `the IRP still lists this device at ${list(mine.addresses)} until ${new Date(mine.expiresAt).toISOString()}, but no agent runs there: start \`sixchat agent --home ${home}\``
          )
    }),
    Effect.catchAll((e) => Effect.succeed(skipped("registration", `the IRP did not answer a lookup (${e.message})`)))
  )

/** Clock skew from a fresh stapled status: the IRP signs it with its own time (PROTOCOL.md 13.6.1). */
const clockCheck = (client: IrpClient, chain: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function* () {
    const serial = Schema.decodeUnknownOption(SerialHex)(describeCertificate(chain[0]!)?.serial)
    if (Option.isNone(serial)) return skipped("clock", "the certificate has no readable serial")
    const before = yield* Clock.currentTimeMillis
    const record = yield* client.status(serial.value, { staple: true })
    const after = yield* Clock.currentTimeMillis
    const fields = record.staple === undefined ? undefined : parseStaple(record.staple)?.fields
    if (fields === undefined)
      return skipped(
        "clock",
        `the IRP signed no status for this certificate (${record.status}), and its signing time is the only server time the protocol carries`
      )
    const skew = Math.round((before + after) / 2 - fields.thisUpdate)
    const margin = Math.ceil((after - before) / 2)
    const how = `±${margin} ms, from the signing time of a fresh stapled status, PROTOCOL.md 13.6.1`
    const size = Math.max(0, Math.abs(skew) - margin)
    const text = `this clock is ${(Math.abs(skew) / 1000).toFixed(1)} s ${skew >= 0 ? "ahead of" : "behind"} the IRP's (${how})`
    if (size > SKEW_FAIL_MS) return fail("clock", `${text}: synchronise it (e.g. \`timedatectl set-ntp true\`)`)
    if (size > SKEW_OK_MS) return warn("clock", `${text}: synchronise it (e.g. \`timedatectl set-ntp true\`)`)
    return ok("clock", text)
  }).pipe(
    Effect.catchAll((e) => Effect.succeed(skipped("clock", `the IRP did not answer a status request (${e.message})`)))
  )

export interface IrpInput {
  readonly home: string
  readonly config: IdentityConfig
  readonly chain: ReadonlyArray<Uint8Array>
  readonly anchors: ReadonlyArray<Uint8Array>
  /** Set when an agent answered: the registration comes from it. */
  readonly agent: AgentStatus | undefined
}

/** Connects to the IRP with the home's identity, then the clock and registration checks. */
export const irpChecks = (
  input: IrpInput
): Effect.Effect<ReadonlyArray<Check>, never, Scope.Scope | Exclude<IrpClientLive.ClientRequirements, CertVerifier>> =>
  Effect.gen(function* () {
    const { home, config, chain, anchors } = input
    const fromAgent = input.agent === undefined ? undefined : registrationFromAgent(input.agent)
    const address = yield* Effect.option(irpAddressArg(config.irp ?? ""))
    if (Option.isNone(address))
      return [fail("irp", `identity.json names no usable IRP address ("${config.irp}"): enrol again`)]
    const shown = formatAddress(address.value)
    const verifier = yield* Effect.option(CertVerifierLive.make({ anchors }))
    if (Option.isNone(verifier))
      return [fail("irp", "ca.pem is not a usable trust anchor: put the domain's ca.pem there")]
    // A protected key with no passphrase at hand: the handshake alone still tells whether the IRP is there.
    const pkcs8 = yield* Effect.option(readAgentKey(home))
    const connected = yield* IrpClientLive.connect({
      address: address.value,
      serverName: config.irpServerName ?? defaultServerName(config.handle),
      identity: Option.isSome(pkcs8) ? { pkcs8: pkcs8.value, chain } : null,
      connectTimeout: IRP_TIMEOUT,
      requestTimeout: IRP_TIMEOUT
    }).pipe(Effect.provideService(CertVerifier, verifier.value), Effect.either)
    if (connected._tag === "Left") {
      const e = connected.left
      const unreachable = e.reason === "Unreachable" || e.reason === "Timeout"
      const check: Check = unreachable
        ? {
            name: "irp",
            level: "fail",
            unreachable: true,
            message: `the IRP at ${shown} cannot be reached (doctor waits ${Duration.format(IRP_TIMEOUT)} at most): ${e.message}`
          }
        : fail("irp", `the IRP at ${shown} refused this home: ${e.message}`)
      return [
        check,
        skipped("clock", "the IRP could not be reached"),
        fromAgent ?? skipped("registration", "no agent runs and the IRP could not be reached")
      ]
    }
    const client = connected.right
    const who = Option.isSome(pkcs8) ? `as ${config.handle}` : "anonymously (the key needs SIXCHAT_PASSPHRASE)"
    const irp = ok(
      "irp",
      `${shown} answered and proved it is ${config.irpServerName ?? defaultServerName(config.handle)} (connected ${who})`
    )
    const clock = yield* clockCheck(client, chain)
    const now = yield* Clock.currentTimeMillis
    const registration =
      fromAgent ??
      (Option.isSome(pkcs8)
        ? yield* registrationWithoutAgent(home, config, client, now)
        : skipped("registration", "no agent runs, and looking ourselves up needs the key (set SIXCHAT_PASSPHRASE)"))
    return [irp, clock, registration]
  })
