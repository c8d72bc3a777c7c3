/**
 * The user's IRP requests from an enrolled identity home (IRP issue section 4):
 *
 * * `sixchat register --home H --address IP:PORT... [--ttl S]`: replaces this device's binding
 *   (PROTOCOL.md §17.5, `Register`) and prints every binding of ours, the address the server saw, and a warning
 *   when it suspects a NAT. `seq` is the clock in milliseconds, which grows across runs of the command.
 * * `sixchat lookup --home H HANDLE [--json]`: the handle's status, certificate (serial, fingerprint,
 *   validity) and unexpired bindings with their expiry. A good certificate is verified under our trust
 *   anchor before it is shown.
 * * `sixchat revoke --home H [--reason R]`: revokes our own current certificate, at once.
 */

import { createHash } from "node:crypto"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Clock, Effect, Schema } from "effect"
import { type Address, formatAddress, Handle, handleDomain, parseAddress } from "../domain/brands.js"
import { RevocationReason, SerialHex } from "../domain/irp/certificates.js"
import type { BindingInfo, WireAddress } from "../domain/irp/messages.js"
import { DeviceId, Seq } from "../domain/irp/registry.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import type { IdentityRecord } from "../services/IrpClient.js"
import { cryptoOption, stdoutLine } from "./common.js"
import { CliFailure, ExitCode, rejected, usage } from "./failure.js"
import { describeCertificate, homeOption, readIdentityConfig } from "./home.js"
import { parseTtl } from "./irpAdmin.js"
import { clientFailure, clientLayer, connectFromHome, irpOverrideOption } from "./irpSession.js"

/** Default lease of `register`: inside the server's default bounds (30 s to 1 hour). */
export const DEFAULT_REGISTER_TTL = 600

const iso = (ms: number) => new Date(ms).toISOString()
const wire = (a: WireAddress | Address) => formatAddress(a as Address)

const bindingLine = (b: BindingInfo, now: number) =>
  `  ${b.deviceId}  ${b.addresses.map(wire).join(" ")}  expires ${iso(b.expiresAt)} (in ${Math.max(0, Math.round((b.expiresAt - now) / 1000))} s)  seq ${b.seq}`

const register = Command.make(
  "register",
  {
    home: homeOption,
    address: Options.text("address").pipe(
      Options.repeated,
      Options.withDescription("IP:PORT where peers reach this device (repeatable; [v6]:port for IPv6)")
    ),
    ttl: Options.text("ttl").pipe(
      Options.withDefault(String(DEFAULT_REGISTER_TTL)),
      Options.withDescription("lease: seconds, or 90s, 10m, 1h (the server accepts 30 s to 1 hour by default)")
    ),
    irp: irpOverrideOption,
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      if (o.address.length === 0) return yield* usage("give at least one --address IP:PORT (your port 4605)")
      const addresses = yield* Effect.forEach(o.address, (text) => {
        const a = parseAddress(text)
        return a === undefined || a.port === 0
          ? Effect.fail(usage(`--address "${text}" is not IP:PORT (write IPv6 as [2001:db8::1]:4605)`))
          : Effect.succeed({ host: a.host, port: a.port } as unknown as WireAddress)
      })
      const ttlSeconds = parseTtl(o.ttl)
      if (ttlSeconds === undefined)
        return yield* usage(`--ttl "${o.ttl}" is not a duration such as 600, 90s, 10m or 1h`)
      const now = yield* Clock.currentTimeMillis
      const result = yield* Effect.scoped(
        Effect.gen(function* () {
          const session = yield* connectFromHome(o.home, o.irp)
          const deviceId = DeviceId.make(session.config.deviceId)
          const registered = yield* session.client
            .register({ deviceId, addresses, ttlSeconds, seq: Seq.make(BigInt(now)) })
            .pipe(Effect.mapError(clientFailure))
          return { registered, handle: session.config.handle, deviceId }
        })
      ).pipe(Effect.provide(clientLayer(o.crypto)))
      const { registered, handle, deviceId } = result
      yield* stdoutLine(
        `registered ${handle} device ${deviceId} at ${addresses.map(wire).join(" ")} for ${ttlSeconds} s (until ${iso(now + ttlSeconds * 1000)})`
      )
      yield* stdoutLine(`bindings of ${handle}:`)
      for (const b of registered.bindings) yield* stdoutLine(bindingLine(b, now))
      yield* stdoutLine(`observed address: ${registered.observed === undefined ? "-" : wire(registered.observed)}`)
      if (registered.natSuspected)
        yield* stdoutLine(
          `warning: NAT suspected: the server saw this device at ${registered.observed?.host ?? "?"}, which is none of the registered addresses; peers may not reach you there (register the public address, or use IPv6)`
        )
    })
).pipe(Command.withDescription("register where this device can be reached (a lease; run it again before it ends)"))

/** `lookup --json`: plain JSON types (times as RFC 3339, seq as a decimal string). */
const jsonRecord = (record: IdentityRecord, certificate: ReturnType<typeof describeCertificate>) => ({
  handle: record.handle,
  status: record.status,
  certificate:
    certificate === undefined
      ? null
      : {
          serial: certificate.serial,
          fingerprint: certificate.fingerprint,
          notAfter: certificate.notAfter.toISOString()
        },
  bindings: record.bindings.map((b) => ({
    deviceId: b.deviceId,
    addresses: b.addresses.map(wire),
    expiresAt: iso(b.expiresAt),
    seq: b.seq.toString()
  }))
})

const lookup = Command.make(
  "lookup",
  {
    home: homeOption,
    json: Options.boolean("json").pipe(Options.withDescription("print one JSON object")),
    irp: irpOverrideOption,
    crypto: cryptoOption,
    handle: Args.text({ name: "HANDLE" }).pipe(Args.withDescription("whom to look up, e.g. bob@example.org"))
  },
  (o) =>
    Effect.gen(function* () {
      const handle = yield* Schema.decodeUnknown(Handle)(o.handle).pipe(
        Effect.mapError(() => usage(`"${o.handle}" is not a handle like bob@example.org`))
      )
      const { record, anchors } = yield* Effect.scoped(
        Effect.gen(function* () {
          const session = yield* connectFromHome(o.home, o.irp)
          const record = yield* session.client.lookup(handle).pipe(Effect.mapError(clientFailure))
          return { record, anchors: session.anchors }
        })
      ).pipe(Effect.provide(clientLayer(o.crypto)))
      const leaf = record.chain[0] === undefined ? undefined : describeCertificate(record.chain[0])
      // PROTOCOL.md §22.3.2: a handle of another domain is verified under that domain's root only, as the
      // home IRP relayed it (`<DomainCa>`, already checked to vouch for that domain alone).
      const foreign = handleDomain(handle) !== handleDomain((yield* readIdentityConfig(o.home)).handle)
      if (foreign && record.status === "good" && record.domainRoot === undefined)
        return yield* rejected(
          `your IRP server gave no CA of ${handleDomain(handle)} with ${handle}, so its certificate cannot be checked: report this to its operator`
        )
      const trusted = foreign && record.domainRoot !== undefined ? [record.domainRoot.root] : anchors
      if (record.status === "good") {
        // The server is the CA, but what we print must be a certificate peers will accept.
        const verifier = yield* CertVerifierLive.make({ anchors: trusted }).pipe(
          Effect.mapError((e) => new CliFailure({ code: ExitCode.State, message: `ca.pem is unusable: ${e.message}` }))
        )
        yield* verifier
          .verify({ chain: record.chain, purpose: "client-auth", expectedHandle: handle })
          .pipe(
            Effect.mapError((e) =>
              rejected(
                `the IRP server's certificate for ${handle} does not verify (${e.message}): report this to its operator`
              )
            )
          )
      }
      const domainCa =
        foreign && record.domainRoot !== undefined
          ? createHash("sha256").update(record.domainRoot.root).digest("hex")
          : undefined
      if (o.json)
        return yield* stdoutLine(
          JSON.stringify(domainCa === undefined ? jsonRecord(record, leaf) : { ...jsonRecord(record, leaf), domainCa })
        )
      const now = yield* Clock.currentTimeMillis
      yield* stdoutLine(`${handle}: ${record.status}`)
      if (domainCa !== undefined)
        yield* stdoutLine(`CA of ${handleDomain(handle)} (relayed by your IRP): SHA-256 ${domainCa}`)
      if (leaf !== undefined)
        yield* stdoutLine(
          `certificate: serial ${leaf.serial}, fingerprint ${leaf.fingerprint}, valid until ${leaf.notAfter.toISOString()}`
        )
      if (record.status !== "good") return
      if (record.bindings.length === 0) return yield* stdoutLine("no current bindings (offline)")
      yield* stdoutLine("bindings:")
      for (const b of record.bindings) yield* stdoutLine(bindingLine(b, now))
    })
).pipe(Command.withDescription("look up a handle: certificate status and fingerprint, current addresses"))

const revoke = Command.make(
  "revoke",
  {
    home: homeOption,
    reason: Options.choice("reason", RevocationReason.literals).pipe(
      Options.withDefault("unspecified" as const),
      Options.withDescription("why (keyCompromise if the key may have leaked)")
    ),
    irp: irpOverrideOption,
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      const serial = yield* Effect.scoped(
        Effect.gen(function* () {
          const session = yield* connectFromHome(o.home, o.irp)
          const leaf = describeCertificate(session.chain[0]!)
          const serial = leaf === undefined ? undefined : Schema.decodeUnknownOption(SerialHex)(leaf.serial)
          if (serial === undefined || serial._tag === "None")
            return yield* new CliFailure({ code: ExitCode.State, message: `cert.pem in ${o.home} is not readable` })
          yield* session.client.revoke(serial.value, o.reason).pipe(Effect.mapError(clientFailure))
          return serial.value
        })
      ).pipe(Effect.provide(clientLayer(o.crypto)))
      yield* stdoutLine(`revoked ${serial} (${o.reason}): peers and the IRP server refuse this certificate from now on`)
      yield* stdoutLine(
        `to get a new certificate: ask the operator for a token, then \`sixchat id enroll --home ${o.home} …\` (a new \`sixchat id new\` home if the key leaked)`
      )
    })
).pipe(Command.withDescription("revoke your own current certificate (takes effect at once)"))

export const userIrpCommands = [register, lookup, revoke] as const
