/**
 * `sixchat send` and `sixchat send-file` (issue 4, sections 2-4): hand a message or a file to the
 * running agent. `send` returns once the message is stored in the outbox (the agent delivers it in
 * the background, retrying until the peer acknowledges) and prints its id; `send-file` prints the
 * transfer id and, with `--wait`, shows progress until the peer has verified the file.
 */
import { statSync } from "node:fs"
import * as Path from "node:path"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Clock, Effect, Stream } from "effect"
import { isTerminalTransfer, type Transfer } from "../../domain/agent/transfers.js"
import type { ControlClient } from "../../layers/agent/control/ControlClient.js"
import type { ControlError } from "../../layers/agent/control/errors.js"
import type { AgentEvent } from "../../services/Agent.js"
import { CliFailure, ExitCode, rejected, usage } from "../failure.js"
import { homeOption } from "../home.js"
import { checkRecipient, parseBody, parseHandle, queueOption, withAgent } from "./agent.js"
import { bytes, duration, transferName } from "./format.js"
import { isTerminal, note, PeopleIo, say } from "./io.js"
import { Progress } from "./progress.js"

const handleArg = Args.text({ name: "HANDLE" }).pipe(Args.withDescription("whom to send to, e.g. bob@example.org"))

export const runSend = (o: {
  readonly home: string
  readonly peer: string
  readonly text: string
  readonly queue?: boolean | undefined
}) =>
  Effect.gen(function* () {
    const peer = yield* parseHandle(o.peer)
    const body = yield* parseBody(o.text)
    const message = yield* withAgent(o.home, (client) =>
      Effect.zipRight(checkRecipient(client, peer, o.queue === true), client.call("send", { peer, body }))
    )
    yield* say(message.id)
  })

export const sendCommand = Command.make(
  "send",
  {
    home: homeOption,
    peer: handleArg,
    text: Args.text({ name: "TEXT" }).pipe(Args.withDescription("the message (quote it)")),
    queue: queueOption
  },
  runSend
).pipe(
  Command.withDescription(
    "queue a message for HANDLE in the running agent and print its id; the agent delivers it (and retries) in the background; an unknown, revoked or other-domain HANDLE is refused unless --queue"
  )
)

/** An absolute path to a readable regular file, or a usage failure. */
export const localFile = (cwd: string, path: string): Effect.Effect<string, CliFailure> =>
  Effect.suspend(() => {
    const absolute = Path.resolve(cwd, path)
    try {
      if (!statSync(absolute).isFile()) return Effect.fail(usage(`${path} is not a regular file: give a file's path`))
    } catch {
      return Effect.fail(usage(`there is no file ${path}: check the path`))
    }
    return Effect.succeed(absolute)
  })

const isThisTransfer = (transfer: Transfer, event: AgentEvent): boolean =>
  (event._tag === "agent.TransferProgress" &&
    event.ref.direction === "out" &&
    event.ref.id === transfer.id &&
    event.ref.peer === transfer.peer) ||
  (event._tag === "agent.TransferUpdated" &&
    event.transfer.direction === "out" &&
    event.transfer.id === transfer.id &&
    event.transfer.peer === transfer.peer)

/** Follows a transfer's events until it ends; shows progress on stderr. */
const follow = (events: Stream.Stream<AgentEvent, ControlError>, initial: Transfer) =>
  Effect.gen(function* () {
    const io = yield* PeopleIo
    const name = transferName(initial)
    const progress = new Progress(name, isTerminal(io.stderr))
    const started = yield* Clock.currentTimeMillis
    let last = initial
    const show = (offset: number, size: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const text = progress.update({ offset, size, now })
        if (text !== "") io.stderr.write(text)
      })
    if (!isTerminalTransfer(initial.state)) {
      yield* show(initial.direction === "out" ? initial.ackedOffset : 0, initial.size)
      yield* events.pipe(
        Stream.filter((event) => isThisTransfer(initial, event)),
        Stream.takeUntil((event) => event._tag === "agent.TransferUpdated" && isTerminalTransfer(event.transfer.state)),
        Stream.runForEach((event) => {
          if (event._tag === "agent.TransferProgress") return show(event.offset, event.size)
          if (event._tag === "agent.TransferUpdated") last = event.transfer
          return Effect.void
        })
      )
    }
    const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
    if (last.state === "done") {
      const rate = seconds > 0 ? `, ${bytes(last.size / seconds)}/s` : ""
      io.stderr.write(
        progress.finish(`sent ${name} (${bytes(last.size)}) to ${last.peer} in ${duration(seconds)}${rate}: verified`)
      )
      return
    }
    if (!isTerminalTransfer(last.state))
      return yield* new CliFailure({
        code: ExitCode.Unreachable,
        message: "the agent stopped before the transfer ended: it resumes when the agent runs again"
      })
    io.stderr.write(progress.finish(`${name}: ${last.state}`))
    return yield* rejected(
      `the transfer ${last.state === "cancelled" ? "was cancelled" : "failed"}${last.detail === null ? "" : ` (${last.detail})`}: send the file again if you still want to`
    )
  })

export const runSendFile = (o: {
  readonly home: string
  readonly peer: string
  readonly path: string
  readonly wait: boolean
  readonly queue?: boolean | undefined
}) =>
  Effect.gen(function* () {
    const io = yield* PeopleIo
    const peer = yield* parseHandle(o.peer)
    const path = yield* localFile(io.cwd, o.path)
    yield* withAgent(o.home, (client: ControlClient) =>
      Effect.gen(function* () {
        yield* checkRecipient(client, peer, o.queue === true)
        // Subscribe before offering, so that no event of this transfer is missed.
        const events = o.wait ? yield* client.subscribe : Stream.empty
        const transfer = yield* client.call("sendFile", { peer, path })
        yield* say(transfer.id)
        if (!o.wait) {
          yield* note(
            `offered ${transferName(transfer)} (${bytes(transfer.size)}) to ${peer}: the agent sends it once ${peer} accepts (watch with --wait)`
          )
          return
        }
        yield* follow(events, transfer)
      })
    )
  })

export const sendFileCommand = Command.make(
  "send-file",
  {
    home: homeOption,
    peer: handleArg,
    path: Args.text({ name: "PATH" }).pipe(Args.withDescription("the file to send")),
    wait: Options.boolean("wait").pipe(
      Options.withDescription("stay until the peer has verified the file, showing progress (rate and ETA)")
    ),
    queue: queueOption
  },
  runSendFile
).pipe(
  Command.withDescription(
    "offer a file to HANDLE through the running agent and print the transfer id; it resumes after breaks"
  )
)
