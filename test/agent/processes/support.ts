/**
 * Agents as real processes on loopback with a real IRP (issue 4, section 6): one `sixchat irp serve`
 * per test file (SQLite in a temporary directory, 127.0.0.1 port 0), people enrolled the way they do
 * it (`id new`, `irp token`, `id enroll`), and `sixchat agent --home H --listen 127.0.0.1:0` processes
 * driven through their control sockets (docs/CONTROL.md) as the people commands drive them.
 *
 * Every wait is bounded (`eventually` polls with a deadline and fails early, with the agent's stderr,
 * when an agent died). Only the processes started here are ended, by their pid; `Domain.cleanup`
 * stops whatever still runs and removes the temporary directory. `npm test` builds dist first; run
 * `npm run build` before running these files alone.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { networkInterfaces, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import { CONTROL_SOCKET_FILE } from "../../../src/domain/agent/rpc.js"
import type { Handle } from "../../../src/domain/brands.js"
import * as ControlClient from "../../../src/layers/agent/control/ControlClient.js"
import type { ControlError } from "../../../src/layers/agent/control/errors.js"
import type { MethodName, ParamsOf, ResultOf } from "../../../src/layers/agent/control/methods.js"
import type { AgentEvent, StoredMessage } from "../../../src/services/Agent.js"
import { type Running, start } from "../../support/cli.js"

export const DOMAIN = "example.org"
export const handleOf = (local: string) => `${local}@${DOMAIN}` as Handle

const hasIpv6Loopback = (): boolean =>
  Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === "IPv6" && i.address === "::1"))

/** Runs a command that must succeed; returns its stdout. */
/** Runs a command with 60 s, not runCli's 20 s: on a loaded machine (2 cores, many processes) commands are slow. */
const runSlow = async (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv) => {
  const run = start(args, { timeoutMs: 60_000, ...(env === undefined ? {} : { env }) })
  run.child.stdin.end()
  return { code: await run.exited, stdout: run.stdout, stderr: run.stderr }
}

export const ok = async (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): Promise<string> => {
  const r = await runSlow(args, env)
  if (r.code !== 0) throw new Error(`sixchat ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

export const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex")

/** Polls `check` every `everyMs` until it yields a value; fails after `timeoutMs`, or at once when an agent died. */
export const eventually = async <A>(
  what: string,
  check: () => Promise<A | undefined> | A | undefined,
  options: { readonly timeoutMs?: number; readonly everyMs?: number; readonly agents?: ReadonlyArray<AgentProc> } = {}
): Promise<A> => {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  let lastError: unknown
  for (;;) {
    const dead = options.agents?.find((a) => !a.running())
    if (dead !== undefined)
      throw new Error(
        `${dead.name}'s agent exited (${dead.run.child.exitCode}) while waiting for ${what}:\n${dead.run.stderr}`
      )
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (e) {
      lastError = e
    }
    if (Date.now() > deadline)
      throw new Error(
        `gave up waiting for ${what}${lastError === undefined ? "" : ` (last error: ${String(lastError)})`}`
      )
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 50))
  }
}

export interface AgentProc {
  readonly name: string
  readonly handle: Handle
  readonly home: string
  readonly run: Running
  readonly pid: number
  readonly running: () => boolean
  /** Sends `signal` to this agent's pid (only if it still runs). */
  readonly signal: (signal: NodeJS.Signals) => void
  /** kill -9, then waits until the process is gone (reaped). */
  readonly kill9: () => Promise<void>
  /** SIGTERM (SIGKILL after 10 s), then its exit code. */
  readonly stop: () => Promise<number | null>
}

export interface Domain {
  /** Its name (`example.org` unless `startDomain` was given another). */
  readonly domain: string
  /** `local@domain`. */
  readonly handleOf: (local: string) => Handle
  readonly root: string
  readonly dir: string
  readonly irpAddress: string
  /** The pid of the domain's `irp serve` process (to count its descriptors, issue 10 §1). */
  readonly irpPid: number
  /** Every `irp serve` of the domain (`irpAddress` first), when `startDomain` was asked for several. */
  readonly irpAddresses: ReadonlyArray<string>
  /**
   * `id new` + `irp token` + `id enroll` into `root/<homeName>` (default: the local part). The IRP
   * lets one source address enrol 3 times at once, then once per 10 s: `viaIpv6` enrols over `[::1]`
   * (another source) when the host has it; the home then names that address, so start its agent
   * with `--irp irpAddress`.
   */
  readonly enrol: (local: string, homeName?: string, options?: { readonly viaIpv6?: boolean }) => Promise<string>
  /** Starts `sixchat agent --home HOME --listen 127.0.0.1:0 ARGS…`; resolves once it is registered with the IRP. */
  readonly startAgent: (name: string, home: string, args?: ReadonlyArray<string>) => Promise<AgentProc>
  /** Stops every agent still running and the IRP server, then removes the directory. */
  readonly cleanup: () => Promise<void>
  /** SIGTERM to the IRP server (only), resolving once it exited: the IRP becomes unreachable. */
  readonly stopIrp: () => Promise<void>
}

/**
 * `irp init` + `irp serve` on 127.0.0.1 port 0 in a fresh temporary directory (short: the control
 * sockets live below it and a socket path is limited to 107 bytes).
 */
export const startDomain = async (
  options: {
    /** Storage for `irp.json` (e.g. a PostgreSQL URL with `?schema=`), instead of the default SQLite file. */
    readonly db?: string
    /** More `irp serve` processes on the same storage (127.0.0.1 port 0 each). */
    readonly extraServers?: number
    /** Changes to `irp.json` (after `irp init`), e.g. a short `clientValiditySeconds`. */
    readonly config?: Readonly<Record<string, unknown>>
    /** The same as `config` (the name the stapled-status tests use). */
    readonly irpConfig?: Readonly<Record<string, unknown>>
    /** The domain (default `example.org`): the federation tests run several. */
    readonly domain?: string
    /** Where the first `irp serve` listens (default `127.0.0.1:0`; a fixed port for DNS records). */
    readonly listen?: string
    /** Environment of the `irp` commands (e.g. `SIXCHAT_DNS`, `SIXCHAT_EXTRA_ROOTS`). */
    readonly env?: NodeJS.ProcessEnv
    /** More arguments of `irp init` (e.g. `--server-cert`, `--server-key`). */
    readonly initArgs?: ReadonlyArray<string>
  } = {}
): Promise<Domain> => {
  const domainName = options.domain ?? DOMAIN
  const irpEnv = options.env
  const handleIn = (local: string) => `${local}@${domainName}` as Handle
  const root = mkdtempSync(join(tmpdir(), "sxap-"))
  const dir = join(root, "domain")
  const processes: Array<Running> = []
  const servers: Array<Running> = []
  let irp: Running | undefined
  const cleanup = async () => {
    for (const p of processes) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue
      try {
        p.child.kill("SIGCONT")
        p.child.kill("SIGKILL")
      } catch {
        // Already gone.
      }
      await p.exited
    }
    for (const server of [...servers, ...(irp === undefined ? [] : [irp])]) {
      if (server.child.exitCode !== null || server.child.signalCode !== null) continue
      server.child.kill("SIGTERM")
      await server.exited
    }
    rmSync(root, { recursive: true, force: true })
  }
  try {
    await ok(["irp", "init", "--dir", dir, "--domain", domainName, ...(options.initArgs ?? [])], options.env)
    if (options.db !== undefined || options.config !== undefined || options.irpConfig !== undefined) {
      const file = join(dir, "irp.json")
      const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
      writeFileSync(
        file,
        JSON.stringify(
          {
            ...config,
            ...options.config,
            ...options.irpConfig,
            ...(options.db === undefined ? {} : { db: options.db })
          },
          null,
          2
        )
      )
    }
    const v6 = hasIpv6Loopback()
    irp = start(
      [
        "irp",
        "serve",
        "--dir",
        dir,
        "--listen",
        options.listen ?? "127.0.0.1:0",
        ...(v6 ? ["--listen", "[::1]:0"] : [])
      ],
      { timeoutMs: 300_000, ...(options.env === undefined ? {} : { env: options.env }) }
    )
    const port = (await irp.waitFor(/listening on 127\.0\.0\.1:(\d+)/, "stderr", 20_000))[1]!
    const irpAddress = `127.0.0.1:${port}`
    const irpAddresses = [irpAddress]
    for (let i = 0; i < (options.extraServers ?? 0); i++) {
      const server = start(["irp", "serve", "--dir", dir, "--listen", "127.0.0.1:0"], { timeoutMs: 300_000 })
      servers.push(server)
      irpAddresses.push(`127.0.0.1:${(await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/, "stderr", 20_000))[1]!}`)
    }
    const irpAddress6 = v6
      ? `[::1]:${(await irp.waitFor(/listening on \[::1\]:(\d+)/, "stderr", 20_000))[1]!}`
      : undefined

    const enrol = async (local: string, homeName = local, options: { readonly viaIpv6?: boolean } = {}) => {
      const home = join(root, homeName)
      const handle = handleIn(local)
      const [token] = await Promise.all([
        ok(["irp", "token", "--dir", dir, "--handle", handle], irpEnv),
        ok(["id", "new", "--home", home, "--handle", handle])
      ])
      const via = (options.viaIpv6 === true ? irpAddress6 : undefined) ?? irpAddress
      const args = ["id", "enroll", "--home", home, "--irp", via, "--token", token.trim()]
      // The IRP rate-limits Enroll per source address (all of ours are 127.0.0.1): wait as told, a few times.
      for (let attempt = 1; ; attempt++) {
        const r = await runSlow([...args, "--trust", join(dir, "ca.pem")])
        if (r.code === 0) return home
        const wait = /rate_limited.*retry in (\d+) s/.exec(r.stderr)?.[1]
        if (wait === undefined || attempt === 5)
          throw new Error(`sixchat ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
        await new Promise((resolve) => setTimeout(resolve, Number(wait) * 1000 + 100))
      }
    }

    const startAgent = async (name: string, home: string, args: ReadonlyArray<string> = []) => {
      // The safety net only: tests stop their agents, cleanup kills what is left.
      const run = start(["agent", "--home", home, "--listen", "127.0.0.1:0", ...args], { timeoutMs: 300_000 })
      run.child.stdin.end()
      processes.push(run)
      const pid = run.child.pid ?? -1
      const running = () => run.child.exitCode === null && run.child.signalCode === null
      const signal = (sig: NodeJS.Signals) => {
        if (running()) process.kill(pid, sig)
      }
      const base = {
        name,
        home,
        run,
        pid,
        running,
        signal,
        kill9: async () => {
          signal("SIGKILL")
          await run.exited
        },
        stop: async () => {
          if (!running()) return run.child.exitCode
          signal("SIGCONT")
          signal("SIGTERM")
          const timer = setTimeout(() => signal("SIGKILL"), 10_000)
          const code = await run.exited
          clearTimeout(timer)
          return code
        }
      }
      const status = await eventually(
        `${name}'s agent to register with the IRP`,
        async () => {
          const s = await call(home, "status", {})
          return s.registered.length > 0 ? s : undefined
        },
        { agents: [{ ...base, handle: handleIn(name) }], timeoutMs: 30_000 }
      )
      const agent: AgentProc = { ...base, handle: status.handle }
      return agent
    }
    const stopIrp = async () => {
      if (irp === undefined || irp.child.exitCode !== null || irp.child.signalCode !== null) return
      irp.child.kill("SIGTERM")
      await irp.exited
    }
    return {
      domain: domainName,
      handleOf: handleIn,
      root,
      dir,
      irpAddress,
      irpAddresses,
      irpPid: irp.child.pid ?? -1,
      enrol,
      startAgent,
      cleanup,
      stopIrp
    }
  } catch (e) {
    await cleanup()
    throw e
  }
}

export const socketOf = (home: string) => join(home, CONTROL_SOCKET_FILE)

/** Runs `f` with one control connection to the agent (closed afterwards). */
export const withClient = <A>(
  agent: AgentProc | string,
  f: (client: ControlClient.ControlClient) => Effect.Effect<A, ControlError | Error>
): Promise<A> =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(ControlClient.connect(socketOf(typeof agent === "string" ? agent : agent.home)), f))
  )

/** One control-socket call (a connection per call, as the people commands do). */
export const call = <M extends MethodName>(agent: AgentProc | string, method: M, params: ParamsOf<M>) =>
  withClient(agent, (client) => client.call(method, params)) as Promise<ResultOf<M>>

/** The whole conversation with `peer` (up to 1000 messages), oldest first. */
export const history = (agent: AgentProc, peer: Handle): Promise<ReadonlyArray<StoredMessage>> =>
  call(agent, "history", { peer, limit: 1000 })

/** `ids` (messages this agent sent) once every one of them is in one of `states`. */
export const untilStates = (
  agent: AgentProc,
  peer: Handle,
  ids: ReadonlyArray<string>,
  states: ReadonlyArray<string>,
  agents: ReadonlyArray<AgentProc>,
  timeoutMs = 30_000
) =>
  eventually(
    `${agent.name}'s ${ids.length} message(s) to ${peer} to be ${states.join(" or ")}`,
    async () => {
      const byId = new Map<string, StoredMessage>(
        (await history(agent, peer)).filter((m) => m.direction === "out").map((m) => [m.id, m])
      )
      return ids.every((id) => states.includes(byId.get(id)?.state ?? "")) ? ids.map((id) => byId.get(id)!) : undefined
    },
    { agents, timeoutMs }
  )

/** How often each of `ids` is in the agent's incoming history from `peer`. */
export const incomingCounts = async (agent: AgentProc, peer: Handle, ids: ReadonlyArray<string>) => {
  const got = (await history(agent, peer)).filter((m) => m.direction === "in")
  return ids.map((id) => got.filter((m) => m.id === id).length)
}

export interface Subscription {
  readonly events: Array<AgentEvent>
  /** Ends the subscription (and its connection). */
  readonly close: () => Promise<void>
}

/**
 * Subscribes to the agent's events; every event from now on lands in `events` (and is handed to
 * `onEvent` first, synchronously, e.g. to kill a process at an exact point). Ends on `close` or when
 * the agent goes away.
 */
export const subscribe = (agent: AgentProc, onEvent?: (event: AgentEvent) => void): Promise<Subscription> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const events: Array<AgentEvent> = []
      const scope = yield* Scope.make()
      const client = yield* Scope.extend(ControlClient.connect(socketOf(agent.home)), scope)
      const stream = yield* Scope.extend(client.subscribe, scope)
      const fiber = yield* Effect.forkDaemon(
        Stream.runForEach(stream, (event) =>
          Effect.sync(() => {
            onEvent?.(event)
            events.push(event)
          })
        ).pipe(Effect.ignore)
      )
      return {
        events,
        close: () => Effect.runPromise(Effect.zipRight(Fiber.interrupt(fiber), Scope.close(scope, Exit.void)))
      }
    })
  )

/** The sessions an agent reports with `peer`. */
export const sessionsWith = async (agent: AgentProc, peer: Handle) =>
  (await call(agent, "status", {})).sessions.filter((s) => s.peer === peer)
