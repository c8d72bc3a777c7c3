/**
 * Runs the built command line (`bin/sixchat`, over dist/) as a real process. `npm test` builds first.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const BIN = fileURLToPath(new URL("../../bin/sixchat", import.meta.url))

export interface Running {
  readonly child: ChildProcessWithoutNullStreams
  stdout: string
  stderr: string
  /**
   * Resolves with the exit code (killing the process after `timeoutMs`) once its output is all read:
   * on `close`, not `exit`, which can come before the last of stdout has been delivered.
   */
  readonly exited: Promise<number | null>
  /** Resolves once stderr (or stdout) matches. */
  readonly waitFor: (pattern: RegExp, stream?: "stdout" | "stderr", timeoutMs?: number) => Promise<RegExpMatchArray>
}

export const start = (
  args: ReadonlyArray<string>,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}
): Running => {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...options.env }, stdio: "pipe" })
  const run: Running = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
      child.on("close", (code) => {
        clearTimeout(timer)
        resolve(code)
      })
    }),
    waitFor: (pattern, stream = "stderr", timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = run[stream].match(pattern)
          if (m) {
            clearTimeout(timer)
            child[stream].off("data", check)
            resolve(m)
            return true
          }
          return false
        }
        const timer = setTimeout(() => {
          child[stream].off("data", check)
          reject(new Error(`timed out waiting for ${pattern} on ${stream}; got: ${run[stream]}`))
        }, timeoutMs)
        if (!check()) child[stream].on("data", () => void check())
      })
  }
  child.stdout.on("data", (d: Buffer) => {
    run.stdout += d.toString("utf8")
  })
  child.stderr.on("data", (d: Buffer) => {
    run.stderr += d.toString("utf8")
  })
  return run
}

/** Runs to completion with optional stdin; returns code and output. */
export const runCli = async (args: ReadonlyArray<string>, stdin?: string, env?: NodeJS.ProcessEnv) => {
  const r = start(args, env === undefined ? {} : { env })
  if (stdin !== undefined) r.child.stdin.end(stdin)
  else r.child.stdin.end()
  const code = await r.exited
  return { code, stdout: r.stdout, stderr: r.stderr }
}
