/**
 * `sixchat outbox [--json]` and `sixchat outbox cancel ID` (issue 13, item 4): what waits
 * for delivery in the running agent, and withdrawing one item. `--json` prints one array of
 * `{ id, peer, kind, state, summary, createdAt, attempts, lastError, nextAttemptAt, expiresAt }`
 * (times RFC 3339 UTC), as the control socket's `outbox` gives it.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Either, Option, Schema } from "effect"
import { type OutboxItem, OutboxResult } from "../../domain/agent/rpc.js"
import { Id } from "../../domain/brands.js"
import { type CliFailure, ExitCode, rejected } from "../failure.js"
import { homeOption } from "../home.js"
import { withAgent } from "./agent.js"
import { dateTime, printable } from "./format.js"
import { note, say } from "./io.js"

const what = (item: OutboxItem) => (item.kind === "message" ? "message" : "file")

/** One text line: `01J…  bob@example.org  message  queued  2026-01-02 10:04  expires 2026-01-09 10:04  "hello"`. */
export const outboxLine = (item: OutboxItem): string => {
  const attempts = item.attempts === null || item.attempts === 0 ? "" : `, ${item.attempts} sent`
  const error = item.lastError === null ? "" : `; last error: ${printable(item.lastError)}`
  return `${item.id}  ${item.peer}  ${what(item)}  ${item.state}${attempts}  since ${dateTime(item.createdAt)}  expires ${dateTime(item.expiresAt)}  ${JSON.stringify(printable(item.summary))}${error}`
}

export const runOutbox = (o: { readonly home: string; readonly json: boolean }) =>
  Effect.gen(function* () {
    const items = yield* withAgent(o.home, (client) => client.call("outbox", {}))
    // The socket's shape: times as RFC 3339 UTC strings.
    if (o.json) return yield* say(JSON.stringify(Schema.encodeSync(OutboxResult)(items), null, 2))
    if (items.length === 0) return yield* note("the outbox is empty: everything was delivered (or given up)")
    for (const item of items) yield* say(outboxLine(item))
  })

export const runOutboxCancel = (o: { readonly home: string; readonly id: string }) =>
  Effect.gen(function* () {
    const decoded = Schema.decodeUnknownEither(Id)(o.id.trim())
    // An id that cannot exist is unknown, like an id nothing has (exit 1, not a usage error).
    if (Either.isLeft(decoded))
      return yield* rejected(`nothing in the outbox has id ${o.id}: \`sixchat outbox\` lists what waits`)
    const id = decoded.right
    const item = yield* withAgent(o.home, (client) => client.call("outboxCancel", { id })).pipe(
      // Unknown here is a "no" (exit 1), not a usage error as elsewhere.
      Effect.catchIf(
        (e): e is CliFailure => e._tag === "CliFailure" && e.code === ExitCode.Usage,
        (e) => Effect.fail(rejected(e.message))
      )
    )
    yield* say(`cancelled ${what(item)} ${item.id} to ${item.peer}`)
  })

const outbox = Command.make(
  "outbox",
  {
    home: homeOption,
    json: Options.boolean("json").pipe(
      Options.withDescription(
        "print a JSON array of {id, peer, kind, state, summary, createdAt, attempts, lastError, nextAttemptAt, expiresAt}"
      )
    )
  },
  runOutbox
).pipe(
  Command.withDescription(
    "list the messages and file offers waiting for delivery, oldest first, with when each expires; `outbox cancel ID` withdraws one"
  )
)

const outboxCancel = Command.make(
  "cancel",
  {
    // Optional here: `sixchat outbox --home H cancel ID` gives it to the group, which then counts.
    home: Options.text("home").pipe(
      Options.optional,
      Options.withDescription("identity home directory (default the group's --home, $SIXCHAT_HOME or ~/.sixchat)")
    ),
    id: Args.text({ name: "ID" }).pipe(Args.withDescription("the id `sixchat outbox` shows"))
  },
  (o) =>
    Effect.flatMap(outbox, (group) => runOutboxCancel({ home: Option.getOrElse(o.home, () => group.home), id: o.id }))
).pipe(Command.withDescription("withdraw a waiting message or file offer; a delivered one can no longer be cancelled"))

export const outboxCommand = outbox.pipe(Command.withSubcommands([outboxCancel]))
