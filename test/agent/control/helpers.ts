/** Fixtures for the control socket tests: a FakeAgent served on a real Unix socket in a temp dir. */
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import { CONTROL_SOCKET_FILE } from "../../../src/domain/agent/rpc.js"
import { Handle } from "../../../src/domain/brands.js"
import * as ControlServer from "../../../src/layers/agent/control/ControlServer.js"
import { type FakeAgent, makeFakeAgent } from "../../support/FakeAgent.js"

export const alice = Handle.make("alice@example.org")
export const bob = Handle.make("bob@example.org")

/** A fresh directory (short path: Unix socket paths are limited to 107 bytes), removed with the scope. */
export const tempHome: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sxc-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A FakeAgent for alice and a control server for it in a new home. */
export const served = (options: Partial<ControlServer.ControlServerOptions> = {}) =>
  Effect.gen(function* () {
    const home = yield* tempHome
    const socketPath = join(home, CONTROL_SOCKET_FILE)
    const fake: FakeAgent = yield* makeFakeAgent({ self: alice })
    const server = yield* ControlServer.make({ socketPath, ...options }).pipe(Effect.provide(fake.layer))
    return { home, socketPath, fake, server }
  })

/** A raw connection: write bytes, read whole lines (parsed), see when the server closed. */
export interface Raw {
  readonly socket: Net.Socket
  readonly send: (text: string | Buffer) => Effect.Effect<void>
  /** The next line from the server, parsed; fails when the connection ended first. */
  readonly next: Effect.Effect<unknown, Error>
  /** Completes when the server has closed the connection. */
  readonly closed: Effect.Effect<void>
}

export const raw = (socketPath: string): Effect.Effect<Raw, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(
      Effect.async<Net.Socket, Error>((resume) => {
        const s = Net.connect({ path: socketPath })
        s.once("connect", () => resume(Effect.succeed(s)))
        s.once("error", (e) => resume(Effect.fail(e)))
      }),
      (s) => Effect.sync(() => s.destroy())
    )
    socket.on("error", () => {})
    const lines: Array<string> = []
    let buffer = ""
    let ended = false
    let wake: (() => void) | undefined
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8")
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        lines.push(buffer.slice(0, i))
        buffer = buffer.slice(i + 1)
      }
      wake?.()
    })
    socket.on("close", () => {
      ended = true
      wake?.()
    })
    const next: Effect.Effect<unknown, Error> = Effect.async<unknown, Error>((resume) => {
      const check = () => {
        const line = lines.shift()
        if (line !== undefined) {
          wake = undefined
          resume(Effect.succeed(JSON.parse(line)))
        } else if (ended) {
          wake = undefined
          resume(Effect.fail(new Error("the server closed the connection")))
        }
      }
      wake = check
      check()
    })
    const closed = Effect.async<void>((resume) => {
      if (ended) return resume(Effect.void)
      socket.once("close", () => resume(Effect.void))
    })
    const send = (text: string | Buffer) =>
      Effect.async<void>((resume) => {
        socket.write(text, () => resume(Effect.void))
      })
    return { socket, send, next, closed }
  })

/** A request line. */
export const request = (id: unknown, method: string, params?: unknown) =>
  `${JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })}\n`

/** Polls `check` every 5 ms until it holds (at most 400 times). */
export const waitUntil = (check: Effect.Effect<boolean>) =>
  Effect.repeat(Effect.zipLeft(check, Effect.sleep("5 millis")), { until: (ok) => ok, times: 400 })
