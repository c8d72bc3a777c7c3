/**
 * The control socket's wire behaviour over a real Unix socket (issue 4, section 1 "Local control";
 * docs/CONTROL.md): JSON-RPC errors keep the connection usable, bad lines end only their connection,
 * the socket file is 0600, stale sockets are replaced, live ones are not, the client limit holds.
 */
import { spawnSync } from "node:child_process"
import { statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ErrorCode } from "../../../src/domain/agent/rpc.js"
import * as ControlServer from "../../../src/layers/agent/control/ControlServer.js"
import { AgentError } from "../../../src/services/Agent.js"
import { makeFakeAgent } from "../../support/FakeAgent.js"
import { alice, bob, raw, request, served, tempHome, waitUntil } from "./helpers.js"

/** Leaves a bound socket file behind: a process listens on it and is killed with SIGKILL. */
const killedListener = (path: string) =>
  spawnSync(process.execPath, [
    "-e",
    `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`
  ])

describe("control socket protocol", () => {
  it.scopedLive("creates the socket with mode 0600", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const stat = statSync(socketPath)
      expect(stat.isSocket()).toBe(true)
      expect(stat.mode & 0o777).toBe(0o600)
    })
  )

  it.scopedLive("answers malformed JSON, invalid requests, unknown methods and invalid params, and stays usable", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const c = yield* raw(socketPath)

      yield* c.send('{"jsonrpc":"2.0","id":1,"method":\n')
      expect(yield* c.next).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: ErrorCode.ParseError } })

      yield* c.send(`${JSON.stringify({ jsonrpc: "1.0", id: 2, method: "status" })}\n`)
      expect(yield* c.next).toMatchObject({ id: 2, error: { code: ErrorCode.InvalidRequest } })
      yield* c.send(`${JSON.stringify({ id: 3 })}\n`)
      expect(yield* c.next).toMatchObject({ id: 3, error: { code: ErrorCode.InvalidRequest } })
      yield* c.send("42\n")
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.InvalidRequest } })
      yield* c.send(`${JSON.stringify({ jsonrpc: "2.0", id: { x: 1 }, method: "status" })}\n`)
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.InvalidRequest } })

      yield* c.send(request(4, "launchRockets"))
      expect(yield* c.next).toMatchObject({ id: 4, error: { code: ErrorCode.MethodNotFound } })
      yield* c.send(request(5, "toString"))
      expect(yield* c.next).toMatchObject({ id: 5, error: { code: ErrorCode.MethodNotFound } })

      yield* c.send(request(6, "send", { peer: "not a handle", body: "hi" }))
      const bad = (yield* c.next) as { error: { code: number; message: string; data: { issues: Array<unknown> } } }
      expect(bad).toMatchObject({ id: 6, error: { code: ErrorCode.InvalidParams } })
      expect(bad.error.message).toMatch(/peer/)
      expect(bad.error.data.issues.length).toBeGreaterThan(0)
      yield* c.send(request(7, "send", ["bob@example.org", "hi"]))
      expect(yield* c.next).toMatchObject({ id: 7, error: { code: ErrorCode.InvalidParams } })
      yield* c.send(request(8, "history", { limit: 0 }))
      expect(yield* c.next).toMatchObject({ id: 8, error: { code: ErrorCode.InvalidParams } })
      yield* c.send(request(9, "contact", { peer: bob, extra: true }))
      expect(yield* c.next).toMatchObject({ id: 9, error: { code: ErrorCode.InvalidParams } })
      yield* c.send(request(10, "sendFile", { peer: bob, path: "relative/file.txt" }))
      expect(yield* c.next).toMatchObject({ id: 10, error: { code: ErrorCode.InvalidParams } })
      yield* c.send(request(11, "contacts", { all: true }))
      expect(yield* c.next).toMatchObject({
        id: 11,
        error: { code: ErrorCode.InvalidParams, message: 'contacts takes no parameters, but got "all".' }
      })
      yield* c.send(request(12, "send", { peer: bob }))
      const missing = (yield* c.next) as { error: { message: string } }
      expect(missing.error.message).toBe(
        'send needs the parameter "body": text XML can carry, at most 32,768 characters.'
      )

      // Still usable: a real call works on the same connection, with a string id.
      yield* c.send(request("last", "status"))
      expect(yield* c.next).toMatchObject({ jsonrpc: "2.0", id: "last", result: { handle: alice } })
    })
  )

  it.scopedLive("maps AgentError reasons to application codes", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      const c = yield* raw(socketPath)
      yield* c.send(request(1, "contact", { peer: bob }))
      expect(yield* c.next).toMatchObject({
        id: 1,
        error: { code: ErrorCode.NotFound, data: { reason: "NotFound" } }
      })
      fake.failWith("send", new AgentError({ reason: "Storage", message: "the disk is full: free some space" }))
      yield* c.send(request(2, "send", { peer: bob, body: "hi" }))
      expect(yield* c.next).toMatchObject({
        id: 2,
        error: { code: ErrorCode.Storage, message: "the disk is full: free some space", data: { reason: "Storage" } }
      })
    })
  )

  it.scopedLive("notifications get no answer; batches get an array of answers", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      const c = yield* raw(socketPath)
      yield* c.send(`${JSON.stringify({ jsonrpc: "2.0", method: "typing", params: { peer: bob, state: "active" } })}\n`)
      yield* c.send(
        `${JSON.stringify([
          { jsonrpc: "2.0", id: 1, method: "status" },
          { jsonrpc: "2.0", method: "typing", params: { peer: bob, state: "paused" } },
          { jsonrpc: "2.0", id: 2, method: "nope" },
          { foo: 1 }
        ])}\n`
      )
      const batch = (yield* c.next) as Array<{ id: unknown }>
      expect(batch).toHaveLength(3)
      expect(batch).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: 1, result: expect.objectContaining({ handle: alice }) }),
          expect.objectContaining({ id: 2, error: expect.objectContaining({ code: ErrorCode.MethodNotFound }) }),
          expect.objectContaining({ id: null, error: expect.objectContaining({ code: ErrorCode.InvalidRequest }) })
        ])
      )
      yield* c.send("[]\n")
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.InvalidRequest } })
      expect(fake.calls.filter((x) => x.method === "typing").map((x) => x.args)).toEqual([
        [bob, "active"],
        [bob, "paused"]
      ])
    })
  )

  it.scopedLive("a line over 1 MiB ends only that connection", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const other = yield* raw(socketPath)
      const c = yield* raw(socketPath)
      yield* c.send(Buffer.alloc(1024 * 1024 + 10, 0x61))
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.ParseError } })
      yield* c.closed
      yield* other.send(request(1, "status"))
      expect(yield* other.next).toMatchObject({ id: 1, result: { handle: alice } })
    })
  )

  it.scopedLive("a line of exactly 1 MiB (plus CRLF) is read, and the connection stays usable", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const c = yield* raw(socketPath)
      const status = request(1, "status").trimEnd()
      yield* c.send(`${status.padEnd(1024 * 1024, " ")}\r\n`)
      expect(yield* c.next).toMatchObject({ id: 1, result: { handle: alice } })
      yield* c.send(`${"x".repeat(1024 * 1024)}\n`)
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.ParseError } })
      yield* c.send(request(2, "status"))
      expect(yield* c.next).toMatchObject({ id: 2, result: { handle: alice } })
    })
  )

  it.scopedLive("invalid UTF-8 ends the connection", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const c = yield* raw(socketPath)
      yield* c.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]))
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.ParseError } })
      yield* c.closed
    })
  )

  it.scopedLive("a subscriber that stops reading is cut off once its output piles up; others go on", () =>
    Effect.gen(function* () {
      const { socketPath, fake, server } = yield* served({ maxPendingWriteBytes: 64 * 1024 })
      const slow = yield* raw(socketPath)
      const fast = yield* raw(socketPath)
      yield* slow.send(request(1, "subscribe"))
      yield* fast.send(request(1, "subscribe"))
      expect(yield* slow.next).toMatchObject({ id: 1, result: { subscription: expect.any(Number) } })
      expect(yield* fast.next).toMatchObject({ id: 1, result: { subscription: expect.any(Number) } })
      slow.socket.pause()
      // Small bursts (the reading client keeps up), until far more than the kernel's socket buffer
      // plus 64 KiB waited for the other one (at most 20 MB).
      let cut = false
      for (let round = 0; round < 1000 && !cut; round++) {
        for (let i = 0; i < 20; i++) yield* fake.emit({ _tag: "agent.Presence", message: "x".repeat(1000) })
        yield* Effect.sleep("1 millis")
        cut = (yield* server.clients) < 2
      }
      expect(cut).toBe(true)
      slow.socket.resume()
      yield* slow.closed
      // The reading subscriber got events and still works.
      expect(yield* fast.next).toMatchObject({ method: "event", params: { event: { _tag: "agent.Presence" } } })
      yield* fast.send(request(2, "status"))
      let answer: unknown
      for (let i = 0; i < 20_000 && answer === undefined; i++) {
        const line = (yield* fast.next) as { id?: unknown }
        if (line.id === 2) answer = line
      }
      expect(answer).toMatchObject({ id: 2, result: { handle: alice } })
    })
  )

  it.scopedLive("answers requests in flight after the client half-closes", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const c = yield* raw(socketPath)
      yield* Effect.async<void>((resume) => {
        c.socket.end(request(1, "status"), () => resume(Effect.void))
      })
      expect(yield* c.next).toMatchObject({ id: 1, result: { handle: alice } })
      yield* c.closed
    })
  )

  it.scopedLive("bounds concurrent clients: one too many gets Busy and is closed", () =>
    Effect.gen(function* () {
      const { socketPath, server } = yield* served({ maxClients: 2 })
      const a = yield* raw(socketPath)
      const b = yield* raw(socketPath)
      yield* a.send(request(1, "status"))
      yield* b.send(request(1, "status"))
      yield* a.next
      yield* b.next
      expect(yield* server.clients).toBe(2)
      const c = yield* raw(socketPath)
      expect(yield* c.next).toMatchObject({ id: null, error: { code: ErrorCode.Busy } })
      yield* c.closed
      a.socket.destroy()
      yield* a.closed
      // The slot frees once the server has seen the close.
      yield* waitUntil(Effect.map(server.clients, (n) => n < 2))
      const d = yield* raw(socketPath)
      yield* d.send(request(2, "status"))
      expect(yield* d.next).toMatchObject({ id: 2, result: { handle: alice } })
    })
  )

  it.scopedLive("replaces a stale socket file, refuses when an agent answers, refuses a non-socket", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      // Another server on the same path: the first one answers.
      const second = yield* Effect.exit(
        Effect.scoped(ControlServer.make({ socketPath }).pipe(Effect.provide(fake.layer)))
      )
      expect(second).toMatchObject(Exit.fail(expect.objectContaining({ reason: "AlreadyRunning" })))

      const home = yield* tempHome
      const stalePath = join(home, "agent.sock")
      // A socket file nobody listens on, as a killed agent leaves it.
      killedListener(stalePath)
      expect(statSync(stalePath).isSocket()).toBe(true)
      const fresh = yield* makeFakeAgent({ self: alice })
      yield* ControlServer.make({ socketPath: stalePath }).pipe(Effect.provide(fresh.layer))
      const c = yield* raw(stalePath)
      yield* c.send(request(1, "status"))
      expect(yield* c.next).toMatchObject({ id: 1, result: { handle: alice } })

      const filePath = join(home, "not-a-socket")
      writeFileSync(filePath, "hello")
      const refused = yield* Effect.exit(
        Effect.scoped(ControlServer.make({ socketPath: filePath }).pipe(Effect.provide(fake.layer)))
      )
      expect(refused).toMatchObject(Exit.fail(expect.objectContaining({ reason: "SocketPath" })))

      const long = yield* Effect.exit(
        Effect.scoped(ControlServer.make({ socketPath: join(home, "x".repeat(120)) }).pipe(Effect.provide(fake.layer)))
      )
      expect(long).toMatchObject(Exit.fail(expect.objectContaining({ reason: "SocketPath" })))
    })
  )
})
