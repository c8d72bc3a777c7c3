/**
 * Abusive TCP clients for the resource tests of issue 10 (§1 close storm, §4 idle flood), run from the
 * test process against a real server process on loopback. Every loop is bounded and every socket is
 * destroyed before the function returns.
 */
import { randomBytes } from "node:crypto"
import { readdirSync } from "node:fs"
import * as Net from "node:net"
import { encodeFrame } from "../../src/domain/channel/framing.js"
import { encodeE2E } from "../../src/domain/e2e/xml.js"
import { GROUP_X25519, PROTOCOL_VERSIONS, SIGNATURE_ALGORITHMS, SUITES } from "../../src/domain/handshake/parameters.js"

/** Open descriptors of a process (Linux `/proc/<pid>/fd`). */
export const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length

/** A well-formed first handshake message (PROTOCOL.md §6.3) with fresh random values, framed (§3). */
export const helloFrame = (): Uint8Array =>
  encodeFrame(
    encodeE2E({
      _tag: "e2e.HelloOffer",
      random: randomBytes(32),
      versions: [...PROTOCOL_VERSIONS],
      keyShares: [{ group: GROUP_X25519, key: randomBytes(32) }],
      suites: [...SUITES],
      sigAlgs: [...SIGNATURE_ALGORITHMS]
    })
  )

/** The points at which a storm connection is closed (issue 10 §1). */
export type CloseAt = "connect" | "partialFrame" | "afterHello" | "resetAfterConnect" | "resetAfterHello"
export const CLOSE_POINTS: ReadonlyArray<CloseAt> = [
  "connect",
  "partialFrame",
  "afterHello",
  "resetAfterConnect",
  "resetAfterHello"
]

const connect = (host: string, port: number, localAddress?: string) =>
  new Promise<Net.Socket>((resolve, reject) => {
    const socket = Net.connect({ host, port, ...(localAddress === undefined ? {} : { localAddress }) })
    socket.once("connect", () => {
      socket.off("error", reject)
      socket.on("error", () => {})
      resolve(socket)
    })
    socket.once("error", reject)
  })

/** Resolves once the socket has received some bytes, ended, or closed; at most `ms`. */
const firstBytes = (socket: Net.Socket, ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    socket.once("data", done)
    socket.once("end", done)
    socket.once("close", done)
  })

/** Opens one connection, closes it at `at` (FIN, or RST for the reset points); waits for nothing else. */
export const openAndClose = async (host: string, port: number, at: CloseAt, localAddress?: string) => {
  const socket = await connect(host, port, localAddress)
  socket.on("data", () => {})
  const hello = helloFrame()
  switch (at) {
    case "connect":
      socket.end()
      break
    case "partialFrame":
      socket.write(hello.subarray(0, 4 + Math.floor(Math.random() * (hello.length - 5))))
      socket.end()
      break
    case "afterHello":
      socket.write(hello)
      await firstBytes(socket, 2000)
      socket.end()
      break
    case "resetAfterConnect":
      socket.resetAndDestroy()
      break
    case "resetAfterHello":
      socket.write(hello)
      await firstBytes(socket, 2000)
      socket.resetAndDestroy()
      break
  }
  // Our side is done: a FIN-closed socket is destroyed once the server has answered or after 2 s.
  if (!socket.destroyed) await firstBytes(socket, 2000).then(() => socket.destroy())
}

/**
 * `n` connections closed at random points (`CLOSE_POINTS`), `concurrency` at a time (default 8), worker
 * `i` binding `sources[i % sources.length]` when given; returns how many ended at each point.
 * Connection failures (a server that refuses or resets before we are connected) count as `refused`.
 */
export const closeStorm = async (
  host: string,
  port: number,
  n: number,
  options: { readonly concurrency?: number; readonly sources?: ReadonlyArray<string> } = {}
) => {
  const counts: Record<string, number> = {}
  let next = 0
  const worker = async (index: number) => {
    const source = options.sources?.[index % options.sources.length]
    while (next < n) {
      next++
      const at = CLOSE_POINTS[Math.floor(Math.random() * CLOSE_POINTS.length)]!
      const outcome = await openAndClose(host, port, at, source).then(
        () => at,
        () => "refused"
      )
      counts[outcome] = (counts[outcome] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, (_, i) => worker(i)))
  return counts
}

/** Polls `fdCount(pid)` until it is at most `limit`; returns the last count seen (deadline `ms`). */
export const fdsSettle = async (pid: number, limit: number, ms = 10_000): Promise<number> => {
  const deadline = Date.now() + ms
  for (;;) {
    const count = fdCount(pid)
    if (count <= limit || Date.now() > deadline) return count
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export interface Flood {
  /** Flood connections open now. */
  readonly open: () => number
  /** Connections opened so far. */
  readonly opened: () => number
  /** How long each connection the server closed had been open (ms), in closing order. */
  readonly serverClosedAfterMs: ReadonlyArray<number>
  /** Destroys every flood socket and stops opening new ones; waits (bounded) until they are gone. */
  readonly stop: () => Promise<void>
}

/**
 * An idle flood from `localAddress`: keeps up to `target` connections open that never send a byte,
 * opening at most `perSecond` new ones a second (replacing those the server closes) and at most
 * `maxOpened` in all, until `stop`.
 */
export const idleFlood = (
  host: string,
  port: number,
  localAddress: string,
  options: { readonly target: number; readonly perSecond: number; readonly maxOpened: number }
): Flood => {
  const sockets = new Set<Net.Socket>()
  const serverClosedAfterMs: Array<number> = []
  let opened = 0
  let stopped = false
  const tick = () => {
    const budget = Math.ceil(options.perSecond / 20)
    for (let i = 0; i < budget && sockets.size < options.target && opened < options.maxOpened && !stopped; i++) {
      opened++
      const socket = Net.connect({ host, port, localAddress })
      const since = Date.now()
      socket.on("error", () => {})
      socket.on("data", () => {})
      socket.on("close", () => {
        sockets.delete(socket)
        if (!stopped) serverClosedAfterMs.push(Date.now() - since)
      })
      sockets.add(socket)
    }
  }
  const timer = setInterval(tick, 50)
  return {
    open: () => sockets.size,
    opened: () => opened,
    serverClosedAfterMs,
    stop: async () => {
      stopped = true
      clearInterval(timer)
      for (const s of sockets) s.destroy()
      const deadline = Date.now() + 5000
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    }
  }
}
