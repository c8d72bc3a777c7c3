/**
 * One agent per identity home (issue 4, section 1): two agents on one home would share one database,
 * one device binding and one control socket. `H/agent.lock` is created exclusively and holds the
 * owner's pid; a lock whose process is gone (a crash, kill -9) is taken over. Released (removed, if
 * it is still ours) when the scope closes.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { CliFailure, ExitCode } from "./failure.js"

export const LOCK_FILE = "agent.lock"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const ownerOf = (file: string): number | undefined => {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Creates the lock file; `false` when it exists. */
const create = (file: string): boolean => {
  try {
    const fd = openSync(file, "wx", 0o600)
    try {
      writeSync(fd, `${process.pid}\n`)
    } finally {
      closeSync(fd)
    }
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  }
}

const take = (home: string): Effect.Effect<string, CliFailure> =>
  Effect.try({
    try: () => {
      const file = path.join(home, LOCK_FILE)
      if (create(file)) return file
      const owner = ownerOf(file)
      if (owner !== undefined && owner !== process.pid && alive(owner))
        throw new CliFailure({
          code: ExitCode.State,
          message: `an agent (pid ${owner}) already runs on ${home}: stop it first, or talk to it (\`sixchat status --home ${home}\`); if no agent runs, remove ${file}`
        })
      // Stale: its agent is gone. Only one of two racing takers can re-create it.
      try {
        unlinkSync(file)
      } catch {
        // Someone else removed it first.
      }
      if (create(file)) return file
      throw new CliFailure({
        code: ExitCode.State,
        message: `another agent is starting on ${home} right now: use that one`
      })
    },
    catch: (e) =>
      e instanceof CliFailure
        ? e
        : new CliFailure({ code: ExitCode.State, message: `cannot lock ${home}: ${(e as Error).message}` })
  })

/** Holds the home's lock for the scope. */
export const lockHome = (home: string): Effect.Effect<void, CliFailure, Scope.Scope> =>
  Effect.asVoid(
    Effect.acquireRelease(take(home), (file) =>
      Effect.sync(() => {
        if (ownerOf(file) !== process.pid) return
        try {
          unlinkSync(file)
        } catch {
          // Already gone.
        }
      })
    )
  )
