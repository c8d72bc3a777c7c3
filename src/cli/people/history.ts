/**
 * `sixchat history --home H [HANDLE] [--json] [--limit N]` (issue 4, section 4): stored messages, each
 * once, oldest first, with their state. `--json` prints one array of
 * `{ id, peer, direction, body, state, at, createdAt, sentAt, deliveredAt, readAt, receivedAt, cancelledAt,
 * expiredAt, failed }` (times RFC 3339 UTC or null; `failed` is true for a message that expired
 * undelivered, state `expired`, shown as "failed: expired undelivered" in text), and among them each key change of the contact(s) shown as a system line
 * (`--json`: `{ kind: "key_change", peer, at, previous, current, ..., status, text }`). The time shown, `at`, is when a message was written (outgoing) or
 * arrived (incoming); an incoming message's `createdAt` is the sender's claim, noted beside it when
 * far from the arrival.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Option } from "effect"
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from "../../domain/agent/messages.js"
import { usage } from "../failure.js"
import { homeOption } from "../home.js"
import { parseHandle, withAgent } from "./agent.js"
import { historyJson, historyLine } from "./format.js"
import { note, say } from "./io.js"
import {
  domainKeyChangeHistoryLine,
  domainKeyChangeJson,
  domainKeyChangeParams,
  keyChangeHistoryLine,
  keyChangeJson,
  type TimelineEntry,
  timeline
} from "./keyChange.js"

const entryJson = (e: TimelineEntry) =>
  e.kind === "message"
    ? historyJson(e.message)
    : e.kind === "keyChange"
      ? keyChangeJson(e.change)
      : domainKeyChangeJson(e.change)

const entryLine = (e: TimelineEntry) =>
  e.kind === "message"
    ? historyLine(e.message)
    : e.kind === "keyChange"
      ? keyChangeHistoryLine(e.change)
      : domainKeyChangeHistoryLine(e.change)

export const runHistory = (o: {
  readonly home: string
  readonly peer: Option.Option<string>
  readonly json: boolean
  readonly limit: number
}) =>
  Effect.gen(function* () {
    if (!Number.isInteger(o.limit) || o.limit < 1 || o.limit > HISTORY_MAX_LIMIT)
      return yield* usage(`--limit must be between 1 and ${HISTORY_MAX_LIMIT}`)
    const peer = Option.isSome(o.peer) ? yield* parseHandle(o.peer.value) : undefined
    const [messages, changes, domainChanges] = yield* withAgent(o.home, (client) =>
      Effect.all([
        client.call("history", peer === undefined ? { limit: o.limit } : { peer, limit: o.limit }),
        client.call("keyChanges", peer === undefined ? {} : { peer }),
        // PROTOCOL.md §22.3.3: a change of the peer's domain CA is a system line like a key change.
        client.call("domainKeyChanges", domainKeyChangeParams(peer))
      ])
    )
    // Key changes are system lines among the messages (issue 10, section 3): never left out.
    const entries = timeline(messages, changes, domainChanges)
    if (o.json) return yield* say(JSON.stringify(entries.map(entryJson), null, 2))
    if (entries.length === 0)
      return yield* note(
        peer === undefined
          ? "no messages yet: send one with `sixchat send --home H HANDLE TEXT`"
          : `no messages with ${peer} yet: start with \`sixchat chat --home H ${peer}\``
      )
    for (const e of entries) yield* say(entryLine(e))
  })

export const historyCommand = Command.make(
  "history",
  {
    home: homeOption,
    peer: Args.text({ name: "HANDLE" }).pipe(
      Args.withDescription("only the conversation with this handle"),
      Args.optional
    ),
    json: Options.boolean("json").pipe(
      Options.withDescription("print a JSON array of {id, peer, direction, body, state, failed, times}")
    ),
    limit: Options.integer("limit").pipe(
      Options.withDefault(HISTORY_DEFAULT_LIMIT),
      Options.withDescription(`the latest N messages (default ${HISTORY_DEFAULT_LIMIT}, at most ${HISTORY_MAX_LIMIT})`)
    )
  },
  runHistory
).pipe(Command.withDescription("show stored messages, oldest first, with their delivery state"))
