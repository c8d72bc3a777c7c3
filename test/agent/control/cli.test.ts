/**
 * The people commands (src/cli/people) run in-process against a FakeAgent behind a real control
 * socket: what they print, their exit codes, the `history --json` shape, the chat in line mode and on
 * a (simulated) terminal, and the command tree's parsing.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { PassThrough } from "node:stream"
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { ExitCode } from "../../../src/cli/failure.js"
import {
  PeopleIo,
  peopleCommands,
  runChat,
  runContactShow,
  runContacts,
  runContactVerify,
  runHistory,
  runSend,
  runSendFile,
  runStatus,
  runTrust
} from "../../../src/cli/people/index.js"
import { alice, bob, served, tempHome, waitUntil } from "./helpers.js"

const ESC = "\u001b"

/** A stream that keeps what is written to it. */
class Capture extends PassThrough {
  text = ""
  constructor(
    readonly isTTY = false,
    readonly columns = 80
  ) {
    super()
    this.on("data", (d: Buffer) => {
      this.text += d.toString("utf8")
    })
  }
}

const makeIo = (options: { tty?: boolean; cwd?: string } = {}) => {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean }
  if (options.tty === true) stdin.isTTY = true
  return {
    stdin,
    stdout: new Capture(options.tty === true),
    stderr: new Capture(options.tty === true),
    cwd: options.cwd ?? "/"
  }
}

type Io = ReturnType<typeof makeIo>

/** An Io whose stdin holds `text` and then ends. */
const withInput = (text: string) => {
  const io = makeIo()
  io.stdin.end(text)
  return io
}
const withIo = (io: Io) => Effect.provideService(PeopleIo, io)

describe("people commands", () => {
  it.scopedLive("send prints the message id once it is stored; bad input and no agent fail with their codes", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      const io = makeIo()
      yield* runSend({ home, peer: "Bob@Example.org", text: "hello bob" }).pipe(withIo(io))
      expect(fake.messages).toHaveLength(1)
      expect(io.stdout.text).toBe(`${fake.messages[0]!.id}\n`)
      expect(fake.messages[0]).toMatchObject({ peer: bob, body: "hello bob" })

      const badHandle = yield* Effect.flip(runSend({ home, peer: "bob", text: "x" }).pipe(withIo(io)))
      expect(badHandle).toMatchObject({ code: ExitCode.Usage })
      expect(badHandle.message).toMatch(/not a handle/)
      const empty = yield* Effect.flip(runSend({ home, peer: bob, text: "" }).pipe(withIo(io)))
      expect(empty).toMatchObject({ code: ExitCode.Usage })

      const nowhere = yield* tempHome
      const noAgent = yield* Effect.flip(runSend({ home: nowhere, peer: bob, text: "x" }).pipe(withIo(io)))
      expect(noAgent).toMatchObject({
        code: ExitCode.Unreachable,
        message: `no agent is running for ${nowhere}: start it with \`sixchat agent --home ${nowhere}\``
      })
    })
  )

  it.scopedLive(
    "send, send-file and chat refuse a handle the agent's lookup does not find; --queue queues anyway",
    () =>
      Effect.gen(function* () {
        const { home, fake } = yield* served()
        const zed = "zed@example.org" as typeof bob
        fake.lookupStatus.set(zed, "unknown")
        const io = makeIo({ cwd: home })
        const refused = yield* Effect.flip(runSend({ home, peer: zed, text: "hi" }).pipe(withIo(io)))
        expect(refused).toMatchObject({ code: ExitCode.Rejected })
        expect(refused.message).toBe(`${zed} is unknown; nothing was queued (--queue queues it anyway)`)
        const foreign = yield* Effect.flip(runSend({ home, peer: "zed@other.net", text: "hi" }).pipe(withIo(io)))
        expect(foreign).toMatchObject({ code: ExitCode.Rejected })
        writeFileSync(join(home, "f.txt"), "x")
        const file = yield* Effect.flip(runSendFile({ home, peer: zed, path: "f.txt", wait: false }).pipe(withIo(io)))
        expect(file).toMatchObject({ code: ExitCode.Rejected })
        const chat = yield* Effect.flip(runChat({ home, peer: zed }).pipe(withIo(withInput("hi\n"))))
        expect(chat).toMatchObject({ code: ExitCode.Rejected })
        expect(fake.messages).toEqual([])
        expect(fake.transfers).toEqual([])
        yield* runSend({ home, peer: zed, text: "hi", queue: true }).pipe(withIo(io))
        expect(fake.messages.map((m) => m.peer)).toEqual([zed])
        expect(fake.calls.filter((c) => c.method === "lookup")).toHaveLength(4)
      })
  )

  it.scopedLive("history --json prints an array of {id, peer, direction, body, state, times}", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      const out = yield* fake.service.send(bob, "hello")
      yield* fake.advance(out.id, "delivered")
      yield* fake.receive(bob, "hi")
      yield* fake.service.send(alice, "note to self")
      const io = makeIo()
      yield* runHistory({ home, peer: Option.some(bob), json: true, limit: 100 }).pipe(withIo(io))
      const parsed = JSON.parse(io.stdout.text) as Array<Record<string, unknown>>
      expect(parsed).toHaveLength(2)
      for (const m of parsed)
        expect(Object.keys(m).sort()).toEqual(
          [
            "at",
            "body",
            "cancelledAt",
            "createdAt",
            "deliveredAt",
            "direction",
            "expiredAt",
            "failed",
            "id",
            "peer",
            "readAt",
            "receivedAt",
            "sentAt",
            "state"
          ].sort()
        )
      expect(parsed[0]).toMatchObject({
        id: out.id,
        peer: bob,
        direction: "out",
        body: "hello",
        state: "delivered",
        createdAt: new Date(out.createdAt).toISOString(),
        readAt: null
      })
      expect(parsed[0]!.deliveredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(parsed[1]).toMatchObject({ direction: "in", body: "hi", state: "received" })

      const all = makeIo()
      yield* runHistory({ home, peer: Option.none(), json: false, limit: 2 }).pipe(withIo(all))
      const lines = all.stdout.text.trimEnd().split("\n")
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(/ bob@example\.org → you {2}hi {2}\(unread\)$/)
      expect(lines[1]).toMatch(/ you → alice@example\.org {2}note to self {2}\(queued\)$/)
      expect(fake.calls.filter((c) => c.method === "history").at(-1)).toEqual({
        method: "history",
        args: [{ limit: 2 }]
      })

      const bad = yield* Effect.flip(runHistory({ home, peer: Option.none(), json: true, limit: 0 }).pipe(withIo(all)))
      expect(bad.code).toBe(ExitCode.Usage)
    })
  )

  it.scopedLive("a key change is a system line in history, an object in --json, and shown by contacts", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      fake.addContact(bob, { keyChange: true })
      yield* fake.receive(bob, "after the change")
      const text = makeIo()
      yield* runHistory({ home, peer: Option.some(bob), json: false, limit: 10 }).pipe(withIo(text))
      const lines = text.stdout.text.trimEnd().split("\n")
      expect(lines[0]).toMatch(
        /\*\*\* bob@example\.org's key changed \(0{16}… -> 0{16}…\); refused until you trust it$/
      )
      expect(lines[1]).toMatch(/bob@example\.org → you {2}after the change/)
      const json = makeIo()
      yield* runHistory({ home, peer: Option.some(bob), json: true, limit: 10 }).pipe(withIo(json))
      const parsed = JSON.parse(json.stdout.text) as Array<Record<string, unknown>>
      expect(parsed[0]).toMatchObject({ kind: "key_change", peer: bob, status: "pending", returning: false })
      expect(parsed[1]).toMatchObject({ body: "after the change" })
    })
  )

  it.scopedLive("contact verify shows the safety number, asks, and marks; --yes skips the question", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      fake.addContact(bob)
      const refused = withInput("no\n")
      const no = yield* Effect.flip(runContactVerify({ home, peer: bob, yes: false }).pipe(withIo(refused)))
      expect(no.code).toBe(ExitCode.Rejected)
      expect(refused.stdout.text).toContain("01234 56789 01234 56789\n")
      // The QR code is drawn with half blocks.
      expect(refused.stdout.text).toMatch(/[▀▄█]/)
      expect(fake.calls.some((c) => c.method === "verify")).toBe(false)

      const agreed = withInput("yes\n")
      yield* runContactVerify({ home, peer: bob, yes: false }).pipe(withIo(agreed))
      expect(agreed.stdout.text).toContain(`${bob} is verified`)
      expect(fake.calls.filter((c) => c.method === "verify")).toEqual([
        { method: "verify", args: [bob, "0123456789".repeat(6)] }
      ])
      const list = makeIo()
      yield* runContacts({ home }).pipe(withIo(list))
      expect(list.stdout.text).toMatch(/bob@example\.org +0{16}… +verified/)

      const scripted = makeIo()
      yield* runContactVerify({ home, peer: bob, yes: true }).pipe(withIo(scripted))
      expect(scripted.stdout.text).not.toMatch(/[▀▄█]/)
      expect(scripted.stdout.text).toContain(`${bob} is verified`)
    })
  )

  it.scopedLive("history shows what a peer wrote without its control characters", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      yield* fake.receive(bob, "evil\u009b2Jline\rover\nsecond")
      const io = makeIo()
      yield* runHistory({ home, peer: Option.some(bob), json: false, limit: 10 }).pipe(withIo(io))
      expect(io.stdout.text).not.toMatch(/[\u0080-\u009f\r]/)
      expect(io.stdout.text).toContain("evil\uFFFD2Jline\uFFFDover\n")
    })
  )

  it.scopedLive("contacts, contact show, trust", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      const empty = makeIo()
      yield* runContacts({ home }).pipe(withIo(empty))
      expect(empty.stderr.text).toMatch(/no contacts yet/)

      fake.addContact(bob, { keyChange: true })
      const list = makeIo()
      yield* runContacts({ home }).pipe(withIo(list))
      expect(list.stdout.text).toMatch(/^HANDLE/)
      expect(list.stdout.text).toMatch(/bob@example\.org +0{16}… .*KEY CHANGED/)

      const show = makeIo()
      yield* runContactShow({ home, peer: bob, qr: false }).pipe(withIo(show))
      expect(show.stdout.text).toContain("session code:  1234 5678 9012")
      expect(show.stdout.text).toContain("safety number: not verified\n  01234 56789 01234 56789\n")
      expect(show.stdout.text).toContain(`fingerprint:   ${"0000 ".repeat(15)}0002`)
      expect(show.stdout.text).toContain("key change:    PENDING")
      expect(show.stdout.text).toContain(`  new key:     ${"0000 ".repeat(15)}0003`)
      expect(show.stderr.text).toContain(`sixchat trust --home ${home} ${bob}`)

      const trust = makeIo()
      yield* runTrust({ home, peer: bob }).pipe(withIo(trust))
      expect(trust.stdout.text).toBe(`now trusting the new key of ${bob}: ${"0000 ".repeat(15)}0003\n`)
      const again = yield* Effect.flip(runTrust({ home, peer: bob }).pipe(withIo(trust)))
      expect(again).toMatchObject({ code: ExitCode.Usage, message: `${bob} has no key change to accept` })
      const unknown = yield* Effect.flip(
        runContactShow({ home, peer: "carol@example.org", qr: false }).pipe(withIo(trust))
      )
      expect(unknown.code).toBe(ExitCode.Usage)
    })
  )

  it.scopedLive("status", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      yield* fake.service.send(bob, "waiting")
      const io = makeIo()
      yield* runStatus({ home }).pipe(withIo(io))
      expect(io.stdout.text).toContain(`handle:       ${alice}  (device test-device)`)
      expect(io.stdout.text).toContain("listening:    [::1]:4605")
      expect(io.stdout.text).toContain("outbox:       1 message(s) waiting for delivery")
      expect(io.stderr.text).toMatch(/not registered with the IRP/)
    })
  )

  it.scopedLive("send-file prints the transfer id; --wait follows it to the end (plain lines off a terminal)", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      writeFileSync(join(home, "data.bin"), Buffer.alloc(4096, 1))
      const io = makeIo({ cwd: home })
      yield* runSendFile({ home, peer: bob, path: "data.bin", wait: false }).pipe(withIo(io))
      expect(io.stdout.text).toBe(`${fake.transfers[0]!.id}\n`)
      expect(fake.calls.at(-1)).toEqual({ method: "sendFile", args: [bob, join(home, "data.bin")] })

      const missing = yield* Effect.flip(runSendFile({ home, peer: bob, path: "nope", wait: false }).pipe(withIo(io)))
      expect(missing.code).toBe(ExitCode.Usage)

      const waiting = makeIo({ cwd: home })
      const fiber = yield* Effect.fork(
        runSendFile({ home, peer: bob, path: "data.bin", wait: true }).pipe(withIo(waiting))
      )
      yield* waitUntil(Effect.sync(() => fake.transfers.length === 2 && waiting.stdout.text !== ""))
      const id = fake.transfers[1]!.id
      yield* fake.progress(id, 2048)
      yield* fake.finish(id, "done")
      yield* Fiber.join(fiber)
      expect(waiting.stdout.text).toBe(`${id}\n`)
      expect(waiting.stderr.text).toMatch(/^data\.bin {2}\[>/)
      expect(waiting.stderr.text).not.toContain("\r")
      expect(waiting.stderr.text).toMatch(/sent data\.bin \(4\.0 KiB\) to bob@example\.org in .*: verified\n$/)

      const failing = makeIo({ cwd: home, tty: true })
      const second = yield* Effect.fork(
        runSendFile({ home, peer: bob, path: "data.bin", wait: true }).pipe(withIo(failing))
      )
      yield* waitUntil(Effect.sync(() => fake.transfers.length === 3 && failing.stdout.text !== ""))
      yield* fake.progress(fake.transfers[2]!.id, 1024)
      yield* fake.finish(fake.transfers[2]!.id, "failed", "the peer refused it")
      const failure = yield* Effect.flip(Fiber.join(second))
      expect(failure).toMatchObject({ code: ExitCode.Rejected })
      expect(failure.message).toContain("the peer refused it")
      expect(failing.stderr.text).toContain("\r")
      expect(failing.stderr.text).toContain(" 25%  1.0 KiB/4.0 KiB")
    })
  )

  it.scopedLive("chat in line mode: history, live messages, marks read, /file, /quit", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      yield* fake.receive(bob, "earlier")
      writeFileSync(join(home, "a.txt"), "abc")
      const io = makeIo({ cwd: home })
      const chat = yield* Effect.fork(runChat({ home, peer: bob }).pipe(withIo(io)))
      yield* waitUntil(Effect.sync(() => fake.calls.some((c) => c.method === "markRead")))
      expect(fake.messages[0]!.state).toBe("read")
      expect(io.stdout.text).toMatch(/^chat with bob@example\.org/)
      expect(io.stdout.text).toMatch(/\] bob: earlier\n/)

      yield* fake.receive(bob, "are you there?")
      yield* waitUntil(Effect.sync(() => io.stdout.text.includes("bob: are you there?")))
      yield* waitUntil(Effect.sync(() => fake.messages[1]!.state === "read"))

      io.stdin.write("yes, here\n")
      yield* waitUntil(Effect.sync(() => fake.messages.length === 3))
      yield* waitUntil(Effect.sync(() => io.stdout.text.includes("you: yes, here …")))
      yield* fake.advance(fake.messages[2]!.id, "delivered")
      yield* waitUntil(Effect.sync(() => io.stdout.text.includes("  ✓✓ yes, here")))

      io.stdin.write("/file a.txt\n/bogus\n//slash\n")
      yield* waitUntil(Effect.sync(() => io.stdout.text.includes("you: /slash")))
      expect(io.stdout.text).toContain("* offered a.txt (3 B)")
      expect(io.stdout.text).toContain("! unknown command /bogus")
      io.stdin.write("/quit\n")
      yield* Fiber.join(chat)
      expect(io.stdout.text.match(/you: yes, here/g)).toHaveLength(1)
    })
  )

  it.scopedLive("chat on a terminal: prints above the prompt, keeps the typed text, sends typing notices", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      const io = makeIo({ tty: true })
      const chat = yield* Effect.fork(runChat({ home, peer: bob }).pipe(withIo(io)))
      yield* waitUntil(Effect.sync(() => fake.calls.some((c) => c.method === "markRead")))
      io.stdin.write("hel")
      yield* waitUntil(Effect.sync(() => fake.calls.some((c) => c.method === "typing")))
      expect(fake.calls.find((c) => c.method === "typing")?.args).toEqual([bob, "active"])
      yield* fake.emit({ _tag: "agent.Typing", peer: bob, state: "active" })
      yield* waitUntil(Effect.sync(() => io.stdout.text.includes("bob is typing… > hel")))
      const before = io.stdout.text.length
      yield* fake.receive(bob, "incoming while typing")
      yield* waitUntil(Effect.sync(() => io.stdout.text.slice(before).includes("> hel")))
      const redraw = io.stdout.text.slice(before)
      // Erase down, the message, then the prompt again with what was typed.
      expect(redraw).toMatch(new RegExp(`${ESC}\\[0J\\[\\d\\d:\\d\\d\\] bob: incoming while typing\n`))
      expect(redraw.indexOf("incoming while typing")).toBeLessThan(redraw.lastIndexOf("> hel"))
      io.stdin.write("lo\r")
      yield* waitUntil(Effect.sync(() => fake.messages.some((m) => m.body === "hello")))
      expect(fake.calls.filter((c) => c.method === "typing").at(-1)?.args).toEqual([bob, "paused"])
      io.stdin.write("/quit\r")
      yield* Fiber.join(chat)
    })
  )

  it.scopedLive("the command tree parses: contact show, history --json --limit", () =>
    Effect.gen(function* () {
      const { home, fake } = yield* served()
      fake.addContact(bob)
      yield* fake.receive(bob, "one")
      yield* fake.receive(bob, "two")
      const cli = Command.run(Command.make("sixchat").pipe(Command.withSubcommands([...peopleCommands])), {
        name: "sixchat",
        version: "test"
      })
      const io = makeIo()
      yield* cli(["node", "sixchat", "history", "--home", home, "--json", "--limit", "1", bob]).pipe(
        withIo(io),
        Effect.provide(NodeContext.layer)
      )
      expect((JSON.parse(io.stdout.text) as Array<{ body: string }>).map((m) => m.body)).toEqual(["two"])
      const show = makeIo()
      yield* cli(["node", "sixchat", "contact", "show", "--home", home, bob]).pipe(
        withIo(show),
        Effect.provide(NodeContext.layer)
      )
      expect(show.stdout.text).toContain(`handle:        ${bob}`)
    })
  )
})
