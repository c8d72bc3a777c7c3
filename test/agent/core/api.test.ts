/**
 * The `Agent` port around the core (issue 4, sections 1-2): input checks, cancel, typing notices and
 * read receipts (each can be turned off), status, and a sender restart that keeps its outbox.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import type { AgentOptions } from "../../../src/layers/agent/core/options.js"
import type { FilesFeature } from "../../../src/layers/agent/core/plugin.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { AgentError, type AgentService } from "../../../src/services/Agent.js"
import { makeTestPki, type TestIdentity } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import { eventually, fileStore, recordEvents, startAgent, tempDir } from "./helpers.js"

const pki = makeTestPki()
const anchors = [pki.caDer]
const aliceId = pki.identity("alice@example.org")
const bobId = pki.identity("bob@example.org")
const alice = Handle.make("alice@example.org")
const bob = Handle.make("bob@example.org")

/** A stand-in file transfer feature: records what the core asks of it. */
const fakeFiles = (pending: ReadonlyArray<Handle>) => {
  const ups: Array<string> = []
  const feature: FilesFeature = {
    plugin: {
      name: "fake-files",
      onSessionUp: (link) => Effect.sync(() => void ups.push(link.peer)),
      onMessage: () => Effect.succeed(false),
      onData: () => Effect.void,
      onSessionDown: () => Effect.void
    },
    sendFile: (peer, path) => Effect.fail(new AgentError({ reason: "BadRequest", message: `fake: ${peer} ${path}` })),
    cancel: () => Effect.succeed(false),
    accept: (peer, id) => Effect.fail(new AgentError({ reason: "NotFound", message: `fake: ${peer} ${id}` })),
    transfers: () => Effect.succeed([]),
    pendingPeers: Effect.succeed(pending)
  }
  return { ups, feature }
}

const world = Effect.gen(function* () {
  const dir = yield* tempDir
  const directory = yield* MemoryDirectory.make
  const transport = yield* TcpTransport.make
  const start = (identity: TestIdentity, name: string, options: Partial<AgentOptions> = {}, files?: FilesFeature) =>
    startAgent({
      ...(files === undefined ? {} : { files: () => Effect.succeed(files) }),
      identity,
      anchors,
      directory,
      transport,
      store: fileStore(join(dir, `${name}.db`), { retry: { baseMs: 50, maxMs: 400 } }),
      listen: [makeAddress("127.0.0.1", 0)],
      options
    })
  return { start, directory }
})

const stateOf = (agent: AgentService, id: string) =>
  Effect.map(agent.history({}), (h) => h.find((m) => m.id === id && m.direction === "out")?.state)
const reaches = (agent: AgentService, id: string, state: string) =>
  eventually(
    Effect.map(stateOf(agent, id), (s) => (s === state ? s : undefined)),
    `${id} ${state}`
  )

describe("the Agent port", () => {
  it.live("refuses what it cannot send, and file transfer without the feature", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* w.start(aliceId, "alice")
        // PROTOCOL.md §5.3.1: over 64 000 bytes of UTF-8, or over 64 000 bytes as written (& counts 5).
        const tooLong = yield* Effect.flip(a.agent.send(bob, "x".repeat(64_001)))
        expect(tooLong.reason).toBe("BadRequest")
        const tooManyAmps = yield* Effect.flip(a.agent.send(bob, "&".repeat(12_801)))
        expect(tooManyAmps.reason).toBe("BadRequest")
        const control = yield* Effect.flip(a.agent.send(bob, "bell \u0007"))
        expect(control.reason).toBe("BadRequest")
        const self = yield* Effect.flip(a.agent.send(alice, "me"))
        expect(self.reason).toBe("BadRequest")
        const file = yield* Effect.flip(a.agent.sendFile(bob, "/etc/hostname"))
        expect(file.reason).toBe("Unavailable")
        const unknown = yield* Effect.flip(a.agent.contact(bob))
        expect(unknown.reason).toBe("NotFound")
        expect(yield* a.agent.history({})).toEqual([])
      })
    )
  )

  it.live("a cancelled message is never sent; status shows listeners, registration and the outbox", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* w.start(aliceId, "alice")
        const keep = yield* a.agent.send(bob, "keep")
        const drop = yield* a.agent.send(bob, "drop")
        yield* a.agent.cancel(drop.id)
        const status = yield* a.agent.status
        expect(status.handle).toBe(alice)
        expect(status.outbox).toBe(1)
        expect(status.listening).toHaveLength(1)
        expect(status.registered).toEqual(status.listening)
        expect(status.sessions).toEqual([])
        const b = yield* w.start(bobId, "bob")
        yield* reaches(a.agent, keep.id, "delivered")
        expect(yield* stateOf(a.agent, drop.id)).toBe("cancelled")
        expect((yield* b.agent.history({})).map((m) => m.body)).toEqual(["keep"])
        const late = yield* Effect.flip(a.agent.cancel(keep.id))
        expect(late.reason).toBe("Refused")
      })
    )
  )

  it.live("lookup, outbox and outboxCancel; a delivered message cannot be cancelled; undelivered ones expire", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* w.start(aliceId, "alice")
        const zed = Handle.make("zed@example.org")
        expect(yield* a.agent.lookup(zed)).toMatchObject({ peer: zed, status: "unknown", online: false })
        // Another domain is looked up like any handle (PROTOCOL.md §22.4): this directory knows no zed there.
        expect((yield* a.agent.lookup(Handle.make("zed@other.net"))).status).toBe("unknown")
        expect((yield* Effect.flip(a.agent.lookup(alice))).reason).toBe("BadRequest")
        expect(yield* a.agent.contacts).toEqual([])

        const b = yield* w.start(bobId, "bob")
        expect(yield* a.agent.lookup(bob)).toMatchObject({ status: "active", online: true })
        const hi = yield* a.agent.send(bob, "hi")
        yield* reaches(a.agent, hi.id, "delivered")
        const late = yield* Effect.flip(a.agent.outboxCancel(hi.id))
        expect(late).toMatchObject({ reason: "Refused" })
        expect(late.message).toMatch(/already delivered to bob@example\.org/)
        expect(
          (yield* Effect.flip(
            a.agent.outboxCancel(hi.id.replace(/.$/, (c) => (c === "Z" ? "Y" : "Z")) as typeof hi.id)
          )).reason
        ).toBe("NotFound")

        yield* b.stop
        // Restarted with a short expiry (not from the start: bob's delivery must not race it).
        yield* a.stop
        const a2 = yield* w.start(aliceId, "alice", { outboxExpiry: "600 millis" })
        const queued = yield* a2.agent.send(zed, "for nobody")
        const [item] = yield* a2.agent.outbox({})
        expect(item).toMatchObject({ id: queued.id, peer: zed, kind: "message", summary: "for nobody" })
        expect(item!.expiresAt - item!.createdAt).toBe(600)
        yield* reaches(a2.agent, queued.id, "expired")
        expect(yield* a2.agent.outbox({})).toEqual([])
        expect((yield* a2.agent.status).failed).toBe(1)
      })
    )
  )

  it.live("typing notices and read receipts flow when on, and not when off", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* w.start(aliceId, "alice")
        const b = yield* w.start(bobId, "bob", { receipts: false, typing: false })
        const bobEvents = yield* recordEvents(b.agent)
        const aliceEvents = yield* recordEvents(a.agent)
        const m = yield* a.agent.send(bob, "hi")
        yield* reaches(a.agent, m.id, "delivered")
        // Alice types: bob has notices off, so he hears nothing; bob's own typing is not sent.
        yield* a.agent.typing(bob, "active")
        yield* b.agent.typing(alice, "active")
        const r = yield* b.agent.send(alice, "reply")
        yield* reaches(b.agent, r.id, "delivered")
        expect([...(yield* Queue.takeAll(bobEvents))].filter((e) => e._tag === "agent.Typing")).toEqual([])
        expect([...(yield* Queue.takeAll(aliceEvents))].filter((e) => e._tag === "agent.Typing")).toEqual([])
        // Bob reads without sending receipts; alice reads and sends one.
        expect(yield* b.agent.markRead(alice)).toBe(1)
        expect(yield* a.agent.markRead(bob)).toBe(1)
        yield* reaches(b.agent, r.id, "read")
        expect(yield* stateOf(a.agent, m.id)).toBe("delivered")
      })
    )
  )

  it.live("typing notices reach a peer that has them on", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* w.start(aliceId, "alice")
        const b = yield* w.start(bobId, "bob")
        const events = yield* recordEvents(b.agent)
        const m = yield* a.agent.send(bob, "hi")
        yield* reaches(a.agent, m.id, "delivered")
        yield* a.agent.typing(bob, "active")
        const typing = yield* eventually(
          Effect.map(Queue.takeAll(events), (c) => [...c].find((e) => e._tag === "agent.Typing")),
          "a typing notice"
        )
        expect(typing).toEqual({ _tag: "agent.Typing", peer: alice, state: "active" })
      })
    )
  )

  it.live("a sender restarted with messages queued still delivers them once the peer appears", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a1 = yield* w.start(aliceId, "alice")
        const queued = yield* Effect.forEach(["q1", "q2"], (body) => a1.agent.send(bob, body))
        yield* a1.stop
        const a2 = yield* w.start(aliceId, "alice")
        expect((yield* a2.agent.status).outbox).toBe(2)
        const b = yield* w.start(bobId, "bob")
        for (const m of queued) yield* reaches(a2.agent, m.id, "delivered")
        expect((yield* b.agent.history({})).map((m) => m.body)).toEqual(["q1", "q2"])
      })
    )
  )

  it.live(
    "a files feature plugs in: sendFile is delegated, its plugin sees sessions, its pending peers are dialed",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* world
          const fake = fakeFiles([bob])
          const a = yield* w.start(aliceId, "alice", {}, fake.feature)
          const refused = yield* Effect.flip(a.agent.sendFile(bob, "/tmp/x"))
          expect(refused.message).toBe("fake: bob@example.org /tmp/x")
          // No message waits for bob, only a (pretend) transfer: alice dials him when he appears.
          yield* w.start(bobId, "bob")
          yield* eventually(
            Effect.sync(() => (fake.ups.length > 0 ? true : undefined)),
            "a session for the transfer"
          )
          expect(fake.ups).toEqual([bob])
          expect((yield* a.agent.status).sessions.map((s) => s.peer)).toEqual([bob])
        })
      )
  )
})
