/**
 * Every method through `ControlClient` against a FakeAgent over a real Unix socket, events through
 * `subscribe`, and the client's errors (no agent, agent gone, application errors).
 */
import { spawnSync } from "node:child_process"
import { chmodSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { ErrorCode } from "../../../src/domain/agent/rpc.js"
import type { Id } from "../../../src/domain/brands.js"
import * as ControlClient from "../../../src/layers/agent/control/ControlClient.js"
import { alice, bob, served, tempHome } from "./helpers.js"

describe("ControlClient", () => {
  it.scopedLive("round-trips every method", () =>
    Effect.gen(function* () {
      const { home, socketPath, fake } = yield* served()
      const client = yield* ControlClient.connect(socketPath)

      const sent = yield* client.call("send", { peer: bob, body: "hello bob" })
      expect(sent).toMatchObject({ peer: bob, direction: "out", body: "hello bob", state: "queued" })
      expect(fake.messages.map((m) => m.id)).toEqual([sent.id])

      const file = join(home, "report.txt")
      writeFileSync(file, "0123456789")
      const transfer = yield* client.call("sendFile", { peer: bob, path: file })
      expect(transfer).toMatchObject({ direction: "out", peer: bob, name: "report.txt", size: 10, state: "offered" })

      yield* fake.receive(bob, "hi alice")
      const history = yield* client.call("history", { peer: bob, limit: 10 })
      expect(history.map((m) => [m.direction, m.body])).toEqual([
        ["out", "hello bob"],
        ["in", "hi alice"]
      ])
      const page = yield* client.call("history", { before: { at: history[1]!.at, seq: history[1]!.seq } })
      expect(page.map((m) => m.body)).toEqual(["hello bob"])

      const lookup = yield* client.call("lookup", { peer: bob })
      expect(lookup).toMatchObject({ peer: bob, status: "active", online: true })
      const waiting = yield* client.call("outbox", {})
      expect(waiting).toMatchObject([{ id: sent.id, peer: bob, kind: "message", state: "queued" }])
      // RFC 3339 on the wire; the typed client gives epoch milliseconds back.
      expect(waiting[0]!.createdAt).toBe(sent.createdAt)
      const second = yield* client.call("send", { peer: bob, body: "second" })
      expect(yield* client.call("outboxCancel", { id: second.id })).toMatchObject({ id: second.id, state: "cancelled" })
      const gone = yield* Effect.flip(client.call("outboxCancel", { id: second.id }))
      expect(gone).toMatchObject({ reason: "Rpc", code: ErrorCode.Refused, agentReason: "Refused" })
      fake.messages.splice(
        fake.messages.findIndex((m) => m.id === second.id),
        1
      )

      yield* client.call("cancel", { id: sent.id })
      expect(fake.messages[0]!.state).toBe("cancelled")
      const unknown = yield* Effect.flip(client.call("cancel", { id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" as Id }))
      expect(unknown).toMatchObject({ reason: "Rpc", code: ErrorCode.NotFound, agentReason: "NotFound" })

      fake.addContact(bob, { keyChange: true })
      const contacts = yield* client.call("contacts", {})
      expect(contacts.map((c) => c.handle)).toEqual([bob])
      const contact = yield* client.call("contact", { peer: bob })
      expect(contact.pendingKeyChange).toMatchObject({ status: "pending" })
      yield* client.call("trust", { peer: bob })
      expect((yield* client.call("contact", { peer: bob })).pendingKeyChange).toBeNull()
      const again = yield* Effect.flip(client.call("trust", { peer: bob }))
      expect(again).toMatchObject({ code: ErrorCode.BadRequest, agentReason: "BadRequest" })

      expect(yield* client.call("markRead", { peer: bob })).toEqual({ count: 1 })
      expect(yield* client.call("markRead", { peer: bob })).toEqual({ count: 0 })
      yield* client.call("typing", { peer: bob, state: "active" })
      expect(fake.calls.at(-1)).toEqual({ method: "typing", args: [bob, "active"] })

      const transfers = yield* client.call("transfers", { peer: bob })
      expect(transfers.map((t) => t.id)).toEqual([transfer.id])
      expect(yield* client.call("transfers", { peer: alice })).toEqual([])

      const status = yield* client.call("status", {})
      expect(status).toMatchObject({ handle: alice, deviceId: "test-device", outbox: 0 })

      const sub = yield* client.call("subscribe", {})
      yield* client.call("unsubscribe", sub)
      const twice = yield* Effect.flip(client.call("unsubscribe", sub))
      expect(twice).toMatchObject({ code: ErrorCode.InvalidParams })
    })
  )

  it.scopedLive("refuses invalid params before sending them", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      const client = yield* ControlClient.connect(socketPath)
      const error = yield* Effect.flip(client.call("send", { peer: bob, body: "\u0000" }))
      expect(error).toMatchObject({ reason: "Rpc", code: ErrorCode.InvalidParams })
      expect(fake.calls).toEqual([])
    })
  )

  it.scopedLive("a subscription receives every later event in order, and ends with its scope", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      const client = yield* ControlClient.connect(socketPath)
      const scope = yield* Scope.make()
      const events = yield* client.subscribe.pipe(Scope.extend(scope))
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(events, 3)))
      // Another client makes the agent act; the subscriber hears it.
      const other = yield* ControlClient.connect(socketPath)
      const sent = yield* other.call("send", { peer: bob, body: "one" })
      yield* fake.advance(sent.id, "delivered")
      yield* fake.emit({ _tag: "agent.Typing", peer: bob, state: "active" })
      expect(Chunk.toReadonlyArray(yield* Fiber.join(collected))).toMatchObject([
        { _tag: "agent.MessageAdded", message: { id: sent.id, body: "one", state: "queued" } },
        { _tag: "agent.MessageUpdated", message: { id: sent.id, state: "delivered" } },
        { _tag: "agent.Typing", peer: bob, state: "active" }
      ])
      yield* Scope.close(scope, Exit.void)
      // The connection stays usable after the unsubscribe.
      const status = yield* client.call("status", {})
      expect(status.handle).toBe(alice)
    })
  )

  it.scopedLive("two subscriptions on one connection each get every event", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      const client = yield* ControlClient.connect(socketPath)
      const a = yield* client.subscribe
      const b = yield* client.subscribe
      const both = yield* Effect.fork(
        Effect.all([Stream.runCollect(Stream.take(a, 1)), Stream.runCollect(Stream.take(b, 1))])
      )
      yield* fake.receive(bob, "hey")
      const [x, y] = yield* Fiber.join(both)
      expect(Chunk.toReadonlyArray(x)).toMatchObject([{ _tag: "agent.MessageAdded", message: { body: "hey" } }])
      expect(Chunk.toReadonlyArray(y)).toEqual(Chunk.toReadonlyArray(x))
    })
  )

  it.scopedLive("says how to start an agent when none runs", () =>
    Effect.gen(function* () {
      const home = yield* tempHome
      const error = yield* Effect.flip(ControlClient.connect(join(home, "agent.sock")))
      expect(error.reason).toBe("NoAgent")
      expect(error.message).toBe(`no agent is running for ${home}: start it with \`sixchat agent --home ${home}\``)
    })
  )

  it.scopedLive("pending calls and event streams fail when the agent stops", () =>
    Effect.gen(function* () {
      const serverScope = yield* Scope.make()
      const { socketPath } = yield* Scope.extend(served(), serverScope)
      const client = yield* ControlClient.connect(socketPath)
      const events = yield* Effect.fork(Stream.runDrain(yield* client.subscribe))
      yield* client.call("status", {})
      yield* Scope.close(serverScope, Exit.void)
      yield* client.closed
      const error = yield* Effect.flip(Fiber.join(events))
      expect(error.reason).toBe("Connection")
      const late = yield* Effect.flip(client.call("status", {}))
      expect(late.reason).toBe("Connection")
    })
  )
})

// The socket's mode is what keeps other users out: only testable when the tests can become another user.
if (process.getuid?.() === 0) {
  describe("control socket permissions", () => {
    it.scopedLive("refuses a connection from another uid (mode 0600)", () =>
      Effect.gen(function* () {
        const { home, socketPath } = yield* served()
        chmodSync(home, 0o755) // let the other user reach the socket file itself
        const attempt = spawnSync(
          process.execPath,
          [
            "-e",
            `const s = require("node:net").connect(${JSON.stringify(socketPath)});
             s.on("connect", () => { console.log("connected"); process.exit(0) });
             s.on("error", (e) => { console.log(e.code); process.exit(1) })`
          ],
          { uid: 65534, gid: 65534, encoding: "utf8" }
        )
        expect(attempt.stdout.trim()).toBe("EACCES")
      })
    )
  })
}
