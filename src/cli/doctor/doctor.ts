/**
 * `sixchat doctor --home H [--json]` (issue 13 §5): checks an identity home and prints one line per
 * check, `ok`, `warn` or `fail`, with a sentence on what to fix:
 *
 * * `home`, `key-mode`, `file-modes`: the home is 0700, `key.pem` 0600, the agent's database and socket
 *   0600, identity, certificate and CA not writable by others;
 * * `identity`, `certificate` (present, for this handle, a warning within 7 days of its end), `ca` (the
 *   certificate chains to `ca.pem`);
 * * `agent`: whether an agent answers on `H/agent.sock`;
 * * `irp`: connect and handshake with the IRP named in identity.json, at most 5 s per step;
 * * `clock`: skew against the IRP, from the signing time of a fresh stapled status (the only server
 *   time the protocol carries, PROTOCOL.md 13.6.1);
 * * `registration`: registered against observed address and the NAT warning, from the running agent
 *   (what `sixchat status` shows); with no agent, what the IRP holds for this device (doctor never
 *   registers: that would move the lease).
 *
 * Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 3 when the only failure
 * is an IRP that could not be reached.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Clock, Effect } from "effect"
import { cryptoOption, stdoutLine } from "../common.js"
import { CliFailure } from "../failure.js"
import { homeOption } from "../home.js"
import { clientLayer } from "../irpSession.js"
import { type Check, exitStatus, skipped } from "./check.js"
import { localChecks } from "./localChecks.js"
import { agentCheck, irpChecks } from "./remoteChecks.js"

const NAME_WIDTH = 13

export const checkLine = (c: Check): string => `${c.level.padEnd(5)} ${c.name.padEnd(NAME_WIDTH)} ${c.message}`

/** Every check of a home, in the order they are printed. */
export const runChecks = (home: string, crypto: "node" | "noble") =>
  Effect.scoped(
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const local = yield* localChecks(home, now)
      const agent = yield* agentCheck(home)
      const { config, chain, anchors } = local
      const remote =
        config === undefined || config.irp === undefined || chain === undefined || anchors === undefined
          ? [
              skipped("irp", "the home is not enrolled (see above)"),
              skipped("clock", "the IRP is not known"),
              skipped("registration", "the home is not enrolled")
            ]
          : yield* irpChecks({ home, config, chain, anchors, agent: agent.status }).pipe(
              Effect.provide(clientLayer(crypto))
            )
      return [...local.checks, agent.check, ...remote]
    })
  )

export const doctorCommand = Command.make(
  "doctor",
  {
    home: homeOption,
    json: Options.boolean("json").pipe(
      Options.withDescription("print one JSON object: {home, checkedAt, exitStatus, checks: [{name, level, message}]}")
    ),
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      const checks = yield* runChecks(o.home, o.crypto)
      const status = exitStatus(checks)
      if (o.json) {
        const checkedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        yield* stdoutLine(JSON.stringify({ home: o.home, checkedAt, exitStatus: status, checks }))
      } else for (const c of checks) yield* stdoutLine(checkLine(c))
      if (status === 0) return
      const failed = checks.filter((c) => c.level === "fail").map((c) => c.name)
      return yield* new CliFailure({
        code: status,
        reported: o.json,
        message:
          status === 3
            ? "the IRP could not be reached; everything else that was checked is fine"
            : `${failed.length === 1 ? "a check" : `${failed.length} checks`} failed (${failed.join(", ")}): fix what the lines above say`
      })
    })
).pipe(
  Command.withDescription(
    "check a home (key and file modes, certificate, CA, agent, IRP, clock, registration) and print one line per check: ok, warn or fail, and what to fix"
  )
)
