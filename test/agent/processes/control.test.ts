/**
 * The control socket of a real agent process (issue 4, sections 1 and 6; docs/CONTROL.md): created
 * with mode 0600, so the kernel refuses a client of another uid; malformed JSON-RPC gets its error
 * answer (-32700, -32600, -32601, -32602) and the connection (and the socket) keeps working; an
 * over-long line closes that connection alone.
 *
 * The other-uid check runs a client as `nobody` through `setpriv` (root only). The directories above
 * the socket are opened to others (0711) for it, so that the socket's own mode is what refuses; the
 * same client connecting to a 0666 socket beside it shows that it could connect otherwise.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs"
import * as Net from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Handle } from "../../../src/domain/brands.js"
import { BIN } from "../../support/cli.js"
import { type AgentProc, call, type Domain, ok, socketOf, startDomain } from "./support.js"

let domain: Domain
let alice: AgentProc

beforeAll(async () => {
  domain = await startDomain()
  alice = await domain.startAgent("alice", await domain.enrol("alice"))
}, 60_000)

afterAll(async () => {
  const code = await alice?.stop()
  await domain.cleanup()
  expect(code).toBe(0)
}, 30_000)

const NOBODY = 65534
const setpriv = (() => {
  if (process.getuid?.() !== 0) return undefined
  try {
    return execFileSync("sh", ["-c", "command -v setpriv"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()

/** Runs `node ARGS…` as uid/gid 65534 (bounded: 20 s). */
const asNobody = (args: ReadonlyArray<string>) =>
  spawnSync(setpriv!, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", process.execPath, ...args], {
    encoding: "utf8",
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/" }
  })

/** Connects to `path` as nobody; prints `connected` or the error code. */
const connectAsNobody = (path: string) =>
  asNobody([
    "-e",
    `const s = require("node:net").connect(process.argv[1]);
     s.on("connect", () => { console.log("connected"); s.destroy() });
     s.on("error", (e) => console.log(e.code))`,
    path
  ]).stdout.trim()

/** A raw newline-delimited connection to the control socket. */
const rawClient = (path: string) =>
  new Promise<{
    readonly send: (line: string) => void
    readonly next: () => Promise<Record<string, unknown>>
    readonly ended: Promise<void>
    readonly close: () => void
  }>((resolve, reject) => {
    const socket = Net.connect({ path })
    let buffer = ""
    const lines: Array<string> = []
    const waiting: Array<(line: string) => void> = []
    const ended = new Promise<void>((done) => socket.once("close", () => done()))
    socket.on("data", (d: Buffer) => {
      buffer += d.toString("utf8")
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        const w = waiting.shift()
        if (w !== undefined) w(line)
        else lines.push(line)
      }
    })
    socket.once("error", reject)
    socket.once("connect", () =>
      resolve({
        send: (line) => void socket.write(`${line}\n`),
        next: () =>
          new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error("no answer from the agent within 10 s")), 10_000)
            const take = (line: string) => {
              clearTimeout(timer)
              ok(JSON.parse(line) as Record<string, unknown>)
            }
            const queued = lines.shift()
            if (queued !== undefined) take(queued)
            else waiting.push(take)
          }),
        ended,
        close: () => socket.destroy()
      })
    )
  })

const errorCode = (answer: Record<string, unknown>) => (answer.error as { code?: number } | undefined)?.code

describe("the agent's control socket", () => {
  it("is a socket file of mode 0600 in the home, owned by the agent's user", () => {
    const stat = statSync(socketOf(alice.home))
    expect(stat.isSocket()).toBe(true)
    expect((stat.mode & 0o777).toString(8)).toBe("600")
    expect(stat.uid).toBe(process.getuid?.())
  })

  it.skipIf(setpriv === undefined)(
    "refuses a client of another uid (nobody), which could connect to a 0666 socket",
    async () => {
      // Only the socket's mode may stand in the way: the directories above it are opened to others.
      const dirs = [domain.root, alice.home]
      const modes = dirs.map((d) => statSync(d).mode & 0o777)
      for (const d of dirs) chmodSync(d, 0o711)
      const open = Net.createServer((s) => s.destroy())
      const openPath = join(domain.root, "open.sock")
      try {
        await new Promise<void>((resolve) => open.listen(openPath, resolve))
        chmodSync(openPath, 0o666)
        expect(connectAsNobody(openPath)).toBe("connected")
        expect(connectAsNobody(socketOf(alice.home))).toBe("EACCES")

        // The people command run by that user says why, with exit code 3.
        const status = asNobody([BIN, "status", "--home", alice.home])
        expect(status.status).toBe(3)
        expect(status.stderr).toMatch(/permission denied on .*agent\.sock: the agent belongs to another user/)
      } finally {
        await new Promise((resolve) => open.close(resolve))
        for (const [i, d] of dirs.entries()) chmodSync(d, modes[i]!)
      }
      // The agent is unharmed.
      expect((await call(alice, "status", {})).handle).toBe(alice.handle)
    }
  )

  it("answers malformed JSON-RPC with -32700/-32600/-32601/-32602 and keeps serving the same connection", async () => {
    const c = await rawClient(socketOf(alice.home))
    try {
      c.send("this is not JSON {")
      expect(await c.next()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } })
      c.send('{"jsonrpc":"2.0","id":2}')
      expect(errorCode(await c.next())).toBe(-32600)
      c.send('{"jsonrpc":"1.0","id":3,"method":"status"}')
      expect(errorCode(await c.next())).toBe(-32600)
      c.send("[]")
      expect(errorCode(await c.next())).toBe(-32600)
      c.send('{"jsonrpc":"2.0","id":{"no":"objects"},"method":"status"}')
      expect(errorCode(await c.next())).toBe(-32600)
      c.send('{"jsonrpc":"2.0","id":5,"method":"rm -rf"}')
      expect(await c.next()).toMatchObject({ id: 5, error: { code: -32601 } })
      c.send('{"jsonrpc":"2.0","id":6,"method":"send","params":["bob@example.org","hi"]}')
      expect(await c.next()).toMatchObject({ id: 6, error: { code: -32602 } })
      c.send('{"jsonrpc":"2.0","id":7,"method":"send","params":{"peer":"not a handle","body":"hi"}}')
      expect(await c.next()).toMatchObject({ id: 7, error: { code: -32602 } })
      // Unknown parameters (issue 10, section 6): refused in one sentence that names them, even for
      // methods that take none, and never with the Schema's type.
      c.send('{"jsonrpc":"2.0","id":71,"method":"status","params":{"verbose":true}}')
      expect(await c.next()).toMatchObject({
        id: 71,
        error: { code: -32602, message: 'status takes no parameters, but got "verbose".' }
      })
      c.send('{"jsonrpc":"2.0","id":72,"method":"contact","params":{"pear":"bob@example.org"}}')
      expect(await c.next()).toMatchObject({
        id: 72,
        error: { code: -32602, message: 'contact has no parameter "pear": it takes "peer".' }
      })
      c.send('{"jsonrpc":"2.0","id":73,"method":"history","params":{"peer":"Bob@Example.org"}}')
      const upper = (await c.next()) as { error: { code: number; message: string } }
      expect(upper.error.code).toBe(-32602)
      expect(upper.error.message).toBe(
        'history: the parameter "peer" must be a handle in lower case, such as bob@example.org, not "Bob@Example.org".'
      )
      // A notification (no id) is not answered; the next request is.
      c.send('{"jsonrpc":"2.0","method":"status"}')
      c.send('{"jsonrpc":"2.0","id":8,"method":"status"}')
      expect(await c.next()).toMatchObject({ jsonrpc: "2.0", id: 8, result: { handle: alice.handle } })
    } finally {
      c.close()
    }
  })

  it("closes a connection that sends a line over 1 MiB, and only that one", async () => {
    const bystander = await rawClient(socketOf(alice.home))
    const c = await rawClient(socketOf(alice.home))
    try {
      c.send(
        `{"jsonrpc":"2.0","id":1,"method":"send","params":{"peer":"bob@example.org","body":"${"x".repeat(1024 * 1024)}"}}`
      )
      expect(await c.next()).toMatchObject({ id: null, error: { code: -32700 } })
      await c.ended
      bystander.send('{"jsonrpc":"2.0","id":"still here","method":"status"}')
      expect(await bystander.next()).toMatchObject({ id: "still here", result: { handle: alice.handle } })
    } finally {
      c.close()
      bystander.close()
    }
    // New clients are served too, the people commands among them.
    expect(await ok(["status", "--home", alice.home])).toMatch(/^handle: +alice@example\.org/)
    expect(existsSync(socketOf(alice.home))).toBe(true)
    expect(alice.running()).toBe(true)
  })

  it("a reader that closes the pipe early (`history | head -1`) ends the command quietly, status 0", async () => {
    // About 500 KB of history: far more than a pipe holds, so the command is still writing when
    // the reader goes away.
    for (let i = 0; i < 16; i++)
      await call(alice, "send", { peer: "bob@example.org" as Handle, body: `${i} ${"y".repeat(30_000)}` })
    // A real `head -1` in a real shell pipeline; bash reports the command's own status.
    const errFile = join(domain.root, "history.err")
    for (const json of ["--json", ""]) {
      const r = spawnSync(
        "bash",
        [
          "-c",
          `"$0" "$1" history --home "$2" --limit 1000 ${json} 2>"$3" | head -1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`,
          process.execPath,
          BIN,
          alice.home,
          errFile
        ],
        { encoding: "utf8", timeout: 30_000 }
      )
      expect({ out: r.stdout.trim(), stderr: readFileSync(errFile, "utf8") }).toEqual({ out: "status=0", stderr: "" })
    }
  })
})
