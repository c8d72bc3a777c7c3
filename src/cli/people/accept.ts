/**
 * `sixchat accept --home H HANDLE ID`: takes a file the agent held (PROTOCOL.md 5.4.7: an offer from
 * someone you have not written to or verified, or over the size `--accept-files` allows). The agent
 * answers at once when the sender is connected, otherwise when the sender offers it again.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { Effect, Schema } from "effect"
import { Id } from "../../domain/brands.js"
import { usage } from "../failure.js"
import { homeOption } from "../home.js"
import { parseHandle, withAgent } from "./agent.js"
import { say } from "./io.js"

export const runAccept = (o: { readonly home: string; readonly peer: string; readonly id: string }) =>
  Effect.gen(function* () {
    const peer = yield* parseHandle(o.peer)
    const id = Schema.decodeUnknownOption(Id)(o.id)
    if (id._tag === "None")
      return yield* usage(`${o.id} is not a transfer id: copy it from \`sixchat history\` or the agent's log`)
    yield* withAgent(o.home, (client) => client.call("accept", { peer, id: id.value }))
    yield* say(`accepted ${o.id} from ${peer}`)
  })

export const acceptCommand = Command.make(
  "accept",
  {
    home: homeOption,
    peer: Args.text({ name: "HANDLE" }).pipe(Args.withDescription("who offered the file, e.g. bob@example.org")),
    id: Args.text({ name: "ID" }).pipe(Args.withDescription("the transfer id of the held file"))
  },
  runAccept
).pipe(Command.withDescription("accept a file the agent held (from someone you have not written to or verified)"))
