/**
 * The agent's control socket (issue 4, section 1 "Local control"; protocol in `docs/CONTROL.md`):
 * JSON-RPC 2.0, newline-delimited, on the Unix domain socket `H/agent.sock`, in the manner of
 * signal-cli's daemon. Methods map one to one onto the `Agent` port.
 *
 * Who may connect: only the user who runs the agent. The socket is created with mode 0600 (umask
 * 0177 around `bind`, then `chmod`), so the kernel refuses `connect` from other uids (Linux checks
 * write permission on the socket file; root is not refused). Node cannot read SO_PEERCRED without a
 * native addon, so the file mode (and the home directory's own mode) is the whole check.
 *
 * Bounds: at most `maxClients` connections (default 64; one more gets a `Busy` error and is closed),
 * `maxInFlight` requests per connection (default 16; reading pauses beyond), request lines of 1 MiB
 * (longer, or invalid UTF-8: an error line, then that connection alone is closed), and 8 MiB of
 * unread output per connection (a client that does not read is disconnected).
 *
 * Events: one subscription to `Agent.events` for the whole server, encoded once per event and
 * written to every subscriber; `subscribe` registers the subscriber right after its response is
 * written, so notifications never precede the subscription id.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs"
import * as Net from "node:net"
import { Effect, FiberSet, Layer, type Scope, Stream } from "effect"
import { ErrorCode, errorLine, eventLine, MAX_REQUEST_LINE_BYTES } from "../../../domain/agent/rpc.js"
import { Agent, type AgentService } from "../../../services/Agent.js"
import { handleLine, type Session } from "./dispatch.js"
import { ControlError, checkSocketPathLength } from "./errors.js"
import { LineSocket } from "./lineSocket.js"
import { encodeEvent } from "./methods.js"

export interface ControlServerOptions {
  readonly socketPath: string
  readonly maxClients?: number
  readonly maxInFlight?: number
  readonly maxLineBytes?: number
  readonly maxPendingWriteBytes?: number
}

export interface ControlServer {
  readonly socketPath: string
  /** Connections open now. */
  readonly clients: Effect.Effect<number>
}

export const DEFAULT_MAX_CLIENTS = 64
export const DEFAULT_MAX_IN_FLIGHT = 16
export const DEFAULT_MAX_PENDING_WRITE_BYTES = 8 * 1024 * 1024

/** Connects to an existing socket file: does an agent answer there? */
const answers = (socketPath: string): Effect.Effect<boolean, ControlError> =>
  Effect.async<boolean, ControlError>((resume) => {
    const socket = Net.connect({ path: socketPath })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", (e: NodeJS.ErrnoException) => {
      socket.destroy()
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT") resume(Effect.succeed(false))
      else
        resume(
          Effect.fail(
            new ControlError({
              reason: "SocketPath",
              message: `cannot check ${socketPath} (${e.code ?? e.message}): remove it if no agent uses it`,
              cause: e
            })
          )
        )
    })
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeoutTo({ duration: "2 seconds", onTimeout: () => true, onSuccess: (b) => b }))

/** Removes a stale socket file (one no agent answers on); refuses when an agent answers or it is no socket. */
const clearStale = (socketPath: string): Effect.Effect<void, ControlError> =>
  Effect.gen(function* () {
    const tooLong = checkSocketPathLength(socketPath)
    if (tooLong !== undefined) return yield* tooLong
    let stat: ReturnType<typeof lstatSync> | undefined
    try {
      stat = lstatSync(socketPath)
    } catch {
      return
    }
    if (!stat.isSocket())
      return yield* new ControlError({
        reason: "SocketPath",
        message: `${socketPath} exists and is not a socket: move it away, then start the agent again`
      })
    if (yield* answers(socketPath))
      return yield* new ControlError({
        reason: "AlreadyRunning",
        message: `an agent already answers on ${socketPath}: stop it first, or use it (\`sixchat status\`)`
      })
    yield* Effect.try({
      try: () => unlinkSync(socketPath),
      catch: (e) =>
        new ControlError({ reason: "SocketPath", message: `cannot remove the stale ${socketPath}: ${e}`, cause: e })
    })
  })

/** Binds with umask 0177 (so the socket is born 0600), then chmods to be sure. */
const listen = (socketPath: string): Effect.Effect<Net.Server, ControlError> =>
  Effect.async<Net.Server, ControlError>((resume) => {
    const server = Net.createServer({ allowHalfOpen: true })
    const fail = (e: Error) => {
      server.close()
      resume(
        Effect.fail(
          new ControlError({ reason: "SocketPath", message: `cannot listen on ${socketPath}: ${e.message}`, cause: e })
        )
      )
    }
    server.once("error", fail)
    let previous: number | undefined
    try {
      previous = process.umask(0o177)
    } catch {
      // Worker threads cannot change the umask; the chmod below still runs before any client is served.
    }
    try {
      server.listen({ path: socketPath, exclusive: true }, () => {
        server.off("error", fail)
        try {
          chmodSync(socketPath, 0o600)
        } catch (e) {
          return fail(e as Error)
        }
        resume(Effect.succeed(server))
      })
    } finally {
      if (previous !== undefined) process.umask(previous)
    }
    return Effect.sync(() => server.close())
  })

interface Subscriber {
  readonly socket: LineSocket
  readonly subscription: number
}

export const make = (options: ControlServerOptions): Effect.Effect<ControlServer, ControlError, Agent | Scope.Scope> =>
  Effect.gen(function* () {
    const agent = yield* Agent
    const { socketPath } = options
    const maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS
    const lineOptions = {
      maxLineBytes: options.maxLineBytes ?? MAX_REQUEST_LINE_BYTES,
      maxPendingWriteBytes: options.maxPendingWriteBytes ?? DEFAULT_MAX_PENDING_WRITE_BYTES
    }
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    const subscribers = new Set<Subscriber>()
    let nextSubscription = 1
    let clients = 0

    // One subscription to the agent's events, fanned out to every subscriber.
    yield* Stream.runForEach(agent.events, (event) =>
      Effect.sync(() => {
        if (subscribers.size === 0) return
        let json: string
        try {
          json = JSON.stringify(encodeEvent(event))
        } catch {
          return
        }
        for (const s of subscribers) if (!s.socket.write(eventLine(s.subscription, json))) subscribers.delete(s)
      })
    ).pipe(Effect.forkScoped)

    yield* clearStale(socketPath)
    const server = yield* Effect.acquireRelease(listen(socketPath), (server) =>
      Effect.sync(() => {
        server.close()
        if (existsSync(socketPath)) {
          try {
            unlinkSync(socketPath)
          } catch {
            // Already gone.
          }
        }
      })
    )
    const run = yield* FiberSet.makeRuntime<never, void, never>()

    server.on("connection", (socket: Net.Socket) => {
      socket.on("error", () => {})
      const lines = new LineSocket(socket, lineOptions)
      if (clients >= maxClients) {
        lines.write(
          errorLine(null, {
            code: ErrorCode.Busy,
            message: `the agent already serves ${maxClients} control clients: close one and try again`
          })
        )
        lines.close()
        return
      }
      clients++
      run(
        serve(lines, agent, maxInFlight, subscribers, () => nextSubscription++).pipe(
          Effect.ensuring(Effect.sync(() => clients--))
        )
      )
    })

    return { socketPath, clients: Effect.sync(() => clients) }
  })

/** Serves one connection until it ends, faults, or the server stops. */
const serve = (
  lines: LineSocket,
  agent: AgentService,
  maxInFlight: number,
  subscribers: Set<Subscriber>,
  newSubscription: () => number
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const mine = new Map<number, Subscriber>()
    const session: Session = {
      subscribe: () => {
        const subscription = newSubscription()
        const subscriber = { socket: lines, subscription }
        return {
          subscription,
          activate: () => {
            mine.set(subscription, subscriber)
            subscribers.add(subscriber)
          }
        }
      },
      unsubscribe: (subscription) => {
        const subscriber = mine.get(subscription)
        if (subscriber === undefined) return false
        mine.delete(subscription)
        subscribers.delete(subscriber)
        return true
      }
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const s of mine.values()) subscribers.delete(s)
        lines.close()
      })
    )
    const inFlight = yield* Effect.makeSemaphore(maxInFlight)
    const requests = yield* FiberSet.make<void, never>()
    while (true) {
      const next = yield* Effect.either(lines.next)
      if (next._tag === "Left") {
        if (next.left !== "Error")
          lines.write(
            errorLine(null, {
              code: ErrorCode.ParseError,
              message:
                next.left === "TooLong"
                  ? `a request line is longer than ${MAX_REQUEST_LINE_BYTES} bytes: closing this connection`
                  : "a request line is not valid UTF-8: closing this connection"
            })
          )
        return
      }
      const line = next.right
      if (line === undefined) break
      yield* inFlight.take(1)
      yield* FiberSet.run(
        requests,
        handleLine(line, agent, session).pipe(
          Effect.flatMap((reply) =>
            Effect.sync(() => {
              if (reply.line !== undefined) lines.write(reply.line)
              reply.afterWrite?.()
            })
          ),
          Effect.ensuring(inFlight.release(1))
        )
      )
    }
    // The client half-closed: answer what is in flight; keep sending events to a subscriber until it
    // closes its side too (so `subscribe` works from tools that shut their input down, such as `nc -N`).
    yield* FiberSet.awaitEmpty(requests)
    if (mine.size > 0) yield* lines.closed
  }).pipe(Effect.scoped)

export const layer = (options: ControlServerOptions): Layer.Layer<never, ControlError, Agent> =>
  Layer.scopedDiscard(make(options))
