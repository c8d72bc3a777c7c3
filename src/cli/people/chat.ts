/**
 * `sixchat chat --home H HANDLE` (issue 4, section 4): an interactive conversation through the running
 * agent. Shows recent history, then messages as they arrive (above the prompt, while you type), with
 * delivery marks; marks the conversation read while it is open; sends typing notices on a terminal;
 * `/file PATH` offers a file, `/quit` (or Ctrl-D, Ctrl-C) leaves. With stdin or stdout not a terminal
 * it runs in line mode (each input line is a message), for scripts and pipes.
 *
 * Order of start-up: subscribe first, then load history, so that nothing arriving in between is lost
 * (a message in both is shown once).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { Clock, Effect, Queue, Schedule, Stream } from "effect"
import type { Handle } from "../../domain/brands.js"
import type { ControlClient } from "../../layers/agent/control/ControlClient.js"
import type { ControlError } from "../../layers/agent/control/errors.js"
import { CliFailure, ExitCode } from "../failure.js"
import { homeOption } from "../home.js"
import { checkRecipient, parseBody, parseHandle, queueOption, withAgent } from "./agent.js"
import { type ChatInput, type ChatScreen, openChatScreen } from "./chatScreen.js"
import { ChatView } from "./chatView.js"
import { PeopleIo } from "./io.js"
import { domainKeyChangeParams, timeline } from "./keyChange.js"
import { localFile } from "./send.js"

/** Messages of history shown when the chat opens. */
export const RECENT_MESSAGES = 20
/** While typing, `active` is repeated at most this often. */
const TYPING_REPEAT_MS = 3000
/** Without a key for this long, `paused` is sent. */
const TYPING_IDLE_MS = 5000

const agentStopped = new CliFailure({
  code: ExitCode.Unreachable,
  message: "the agent stopped: start it again, then reopen the chat"
})

const HELP = "commands: /file PATH sends a file, /quit leaves, //text sends a line that starts with /"

/** Runs `effect`; a refused call is shown in the chat instead of ending it (a lost connection still ends it). */
const orShow = (screen: ChatScreen, effect: Effect.Effect<unknown, ControlError | CliFailure>) =>
  Effect.catchAll(Effect.asVoid(effect), (e) =>
    e._tag === "ControlError" && e.reason !== "Rpc" ? Effect.fail(e) : Effect.sync(() => screen.print(`! ${e.message}`))
  )

const conversation = (client: ControlClient, peer: Handle) =>
  Effect.gen(function* () {
    const io = yield* PeopleIo
    const events = yield* client.subscribe
    const recent = yield* client.call("history", { peer, limit: RECENT_MESSAGES })
    const changes = yield* client.call("keyChanges", { peer })
    const domainChanges = yield* client.call("domainKeyChanges", domainKeyChangeParams(peer))
    const inputs = yield* Queue.unbounded<ChatInput>()
    const screen = yield* openChatScreen(io, (input) => void inputs.unsafeOffer(input))
    const view = new ChatView(peer, screen)

    screen.print(`chat with ${peer}; ${HELP}`)
    for (const entry of timeline(recent, changes, domainChanges))
      if (entry.kind === "message") view.message(entry.message)
      else if (entry.kind === "keyChange") view.keyChange(entry.change)
      else view.domainKeyChange(entry.change)
    const markRead = Effect.ignore(client.call("markRead", { peer }))
    yield* markRead

    let typingSentAt: number | undefined
    let lastKeyAt = 0
    const typing = (state: "active" | "paused") => Effect.ignore(client.call("typing", { peer, state }))

    const send = (line: string) =>
      Effect.gen(function* () {
        if (typingSentAt !== undefined) {
          typingSentAt = undefined
          yield* typing("paused")
        }
        const body = yield* parseBody(line)
        view.message(yield* client.call("send", { peer, body }))
      })

    const sendFile = (path: string) =>
      Effect.gen(function* () {
        const absolute = yield* localFile(io.cwd, path)
        const transfer = yield* client.call("sendFile", { peer, path: absolute })
        view.event({ _tag: "agent.TransferUpdated", transfer }, yield* Clock.currentTimeMillis)
      })

    /** One input; `false` ends the chat. */
    const handle = (input: ChatInput): Effect.Effect<boolean, ControlError> => {
      if (input._tag === "End") return Effect.succeed(false)
      if (input._tag === "Key")
        return Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          lastKeyAt = now
          if (typingSentAt === undefined || now - typingSentAt >= TYPING_REPEAT_MS) {
            typingSentAt = now
            yield* typing("active")
          }
          return true
        })
      const line = input.line.trimEnd()
      if (line.trim() === "") return Effect.succeed(true)
      if (line === "/quit" || line === "/exit") return Effect.succeed(false)
      const show = (text: string) =>
        Effect.sync(() => {
          screen.print(text)
          return true
        })
      if (line === "/help") return show(HELP)
      if (line.startsWith("/file ")) return Effect.as(orShow(screen, sendFile(line.slice(6).trim())), true)
      if (line.startsWith("//")) return Effect.as(orShow(screen, send(line.slice(1))), true)
      if (line.startsWith("/")) return show(`! unknown command ${line.split(" ")[0]}; ${HELP}`)
      return Effect.as(orShow(screen, send(line)), true)
    }

    const inputLoop = Effect.iterate(true, {
      while: (going) => going,
      body: () => Effect.flatMap(Queue.take(inputs), handle)
    })

    const eventLoop = Stream.runForEach(events, (event) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => (view.event(event, now) ? markRead : Effect.void))
    )

    // Once a second: drop a stale typing notice of the peer, send `paused` when we stopped typing.
    const ticker = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      view.tick(now)
      if (typingSentAt !== undefined && now - lastKeyAt >= TYPING_IDLE_MS) {
        typingSentAt = undefined
        yield* typing("paused")
      }
    }).pipe(Effect.repeat(Schedule.spaced("1 second")))

    yield* Effect.raceFirst(
      inputLoop,
      Effect.zipRight(
        Effect.raceFirst(eventLoop, ticker),
        // The event stream only ends when the connection does.
        Effect.fail(agentStopped)
      )
    )
    if (typingSentAt !== undefined) yield* typing("paused")
  })

export const runChat = (o: { readonly home: string; readonly peer: string; readonly queue?: boolean | undefined }) =>
  Effect.gen(function* () {
    const peer = yield* parseHandle(o.peer)
    yield* withAgent(o.home, (client) =>
      Effect.mapError(
        Effect.zipRight(checkRecipient(client, peer, o.queue === true), conversation(client, peer)),
        (e) => (e._tag === "ControlError" && e.reason === "Connection" ? agentStopped : e)
      )
    )
  })

export const chatCommand = Command.make(
  "chat",
  {
    home: homeOption,
    peer: Args.text({ name: "HANDLE" }).pipe(Args.withDescription("whom to chat with, e.g. bob@example.org")),
    queue: queueOption
  },
  runChat
).pipe(
  Command.withDescription(
    "chat with HANDLE: recent history, live messages with delivery marks (… ✓ ✓✓ read), /file PATH, /quit; line mode when not on a terminal"
  )
)
