/**
 * What `sixchat demo` needs to run agents the way people do: each one a real `sixchat agent` process
 * on its own identity home, driven through its control socket (docs/CONTROL.md) like the people
 * commands drive it. Output lines of the agents are shown, indented and tagged with the name.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import { Duration, Effect, type Scope } from "effect"
import * as ControlClient from "../layers/agent/control/ControlClient.js"
import type { MethodName, ParamsOf, ResultOf } from "../layers/agent/control/methods.js"
import { stdoutLine } from "./common.js"
import { CliFailure, ExitCode } from "./failure.js"
import { agentSocketPath } from "./home.js"

/** `bin/sixchat` beside `dist/` (this file is `dist/cli/demoAgents.js`). */
export const BIN = fileURLToPath(new URL("../../bin/sixchat", import.meta.url))

export const demoFailure = (message: string) => new CliFailure({ code: ExitCode.Rejected, message: `demo: ${message}` })

export interface AgentProcess {
  readonly name: string
  readonly home: string
  readonly pid: number
  /** Everything it wrote on stderr (for failure messages). */
  readonly stderr: () => string
  /** Whether it is still running. */
  readonly running: () => boolean
  /** SIGTERM, then its exit code (SIGKILL after 10 s). */
  readonly stop: Effect.Effect<number | null>
}

const exitOf = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once("exit", (code) => resolve(code)))

const stopChild = (child: ChildProcess): Effect.Effect<number | null> =>
  Effect.promise(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    const exited = exitOf(child)
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    const code = await exited
    clearTimeout(timer)
    return code
  })

/** Starts `sixchat agent --home HOME ARGS…`; the process is stopped when the scope closes, if still running. */
export const startAgent = (
  name: string,
  home: string,
  args: ReadonlyArray<string>
): Effect.Effect<AgentProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [BIN, "agent", "--home", home, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, SIXCHAT_HOME: home }
      })
      let stderr = ""
      const show = (line: string) => void process.stdout.write(`     [${name}] ${line}\n`)
      Readline.createInterface({ input: child.stdout! }).on("line", show)
      Readline.createInterface({ input: child.stderr! }).on("line", (line) => {
        stderr += `${line}\n`
        show(line)
      })
      return {
        child,
        agent: {
          name,
          home,
          pid: child.pid ?? -1,
          stderr: () => stderr,
          running: () => child.exitCode === null && child.signalCode === null,
          stop: stopChild(child)
        } satisfies AgentProcess
      }
    }),
    ({ child }) => Effect.asVoid(stopChild(child))
  ).pipe(Effect.map(({ agent }) => agent))

/** One control-socket call to `agent` (a connection per call, as the people commands do). */
export const call = <M extends MethodName>(
  agent: AgentProcess,
  method: M,
  params: ParamsOf<M>
): Effect.Effect<ResultOf<M>, CliFailure> =>
  Effect.scoped(
    Effect.flatMap(ControlClient.connect(agentSocketPath(agent.home)), (client) => client.call(method, params))
  ).pipe(Effect.mapError((e) => demoFailure(`${agent.name}'s agent: ${e.message}`)))

/**
 * Polls `check` (every 50 ms, at most `within`) until it yields a value. Fails, saying what was
 * awaited, when time runs out or the agent process died.
 */
export const waitFor = <A>(
  what: string,
  check: Effect.Effect<A | undefined, CliFailure>,
  agents: ReadonlyArray<AgentProcess>,
  within: Duration.DurationInput = Duration.seconds(20)
): Effect.Effect<A, CliFailure> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(within))
    for (;;) {
      const dead = agents.find((a) => !a.running())
      if (dead !== undefined)
        return yield* demoFailure(`${dead.name}'s agent stopped while waiting for ${what}:\n${dead.stderr()}`)
      const value = yield* Effect.orElseSucceed(check, () => undefined)
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* demoFailure(`gave up waiting for ${what}`)
      yield* Effect.sleep("50 millis")
    }
  })

/** A numbered step of the demo. */
export const step = (n: number, text: string) => stdoutLine(`\n${n}. ${text}`)
/** A line under a step. */
export const detail = (text: string) => stdoutLine(`   ${text}`)
