/**
 * `sixchat status --home H` (issue 4, section 4): what the running agent is doing: who it is, where it
 * listens, what the IRP holds for it, live sessions (with session codes), the outbox.
 */
import * as Command from "@effect/cli/Command"
import { Effect } from "effect"
import { formatAddress } from "../../domain/brands.js"
import { homeOption } from "../home.js"
import { withAgent } from "./agent.js"
import { clock, dateTime, groupedHex } from "./format.js"
import { note, say } from "./io.js"

export const runStatus = (o: { readonly home: string }) =>
  Effect.gen(function* () {
    const s = yield* withAgent(o.home, (client) => client.call("status", {}))
    const list = (addresses: ReadonlyArray<Parameters<typeof formatAddress>[0]>) =>
      addresses.length === 0 ? "none" : addresses.map(formatAddress).join(", ")
    yield* say(`handle:       ${s.handle}  (device ${s.deviceId})`)
    yield* say(`fingerprint:  ${groupedHex(s.fingerprint)}`)
    yield* say(`listening:    ${list(s.listening)}`)
    yield* say(
      `registered:   ${list(s.registered)}${s.registrationExpiresAt === undefined ? "" : `  (lease until ${dateTime(s.registrationExpiresAt)})`}`
    )
    if (s.natSuspected !== undefined)
      yield* note(
        `warning: the IRP saw this agent from ${formatAddress(s.natSuspected)}, not a registered address: a NAT is likely in the way, so peers may not reach you (use IPv6 or a public address)`
      )
    yield* say(
      `outbox:       ${s.outbox === 0 ? "empty" : `${s.outbox} message(s) waiting for delivery (sixchat outbox lists them)`}`
    )
    if (s.failed !== undefined && s.failed > 0)
      yield* say(
        `failed:       ${s.failed} message(s) or file(s) not delivered in time, given up (see sixchat history)`
      )
    yield* say(`sessions:     ${s.sessions.length === 0 ? "none" : s.sessions.length}`)
    for (const session of s.sessions)
      yield* say(
        `  ${session.peer.padEnd(30)} ${session.role.padEnd(9)} ${formatAddress(session.remote).padEnd(24)} since ${clock(session.since)}  code ${session.sessionCode}`
      )
    if (s.registered.length === 0)
      yield* note(
        "not registered with the IRP: peers cannot find this agent; check `sixchat id show` and the agent's log"
      )
  })

export const statusCommand = Command.make("status", { home: homeOption }, runStatus).pipe(
  Command.withDescription("show the running agent: identity, addresses, IRP registration, sessions, outbox")
)
