/**
 * One result of `sixchat doctor` (issue 13 §5): a named check, its level and one sentence that says
 * what was found and, unless it is `ok`, what to do about it.
 */

export type Level = "ok" | "warn" | "fail"

export interface Check {
  /** Short stable name for scripts (`key-mode`, `irp`, …). */
  readonly name: string
  readonly level: Level
  readonly message: string
  /** A failure only because the IRP did not answer (exit 3 when no other check failed). */
  readonly unreachable?: boolean | undefined
}

export const ok = (name: string, message: string): Check => ({ name, level: "ok", message })
export const warn = (name: string, message: string): Check => ({ name, level: "warn", message })
export const fail = (name: string, message: string): Check => ({ name, level: "fail", message })
/** A check that could not run, and why (a warning: the user sees it was not done). */
export const skipped = (name: string, why: string): Check => ({ name, level: "warn", message: `not checked: ${why}` })

/** Exit status: 0 no failure (warnings allowed), 3 when the only failures are an unreachable IRP, else 1. */
export const exitStatus = (checks: ReadonlyArray<Check>): 0 | 1 | 3 => {
  const failed = checks.filter((c) => c.level === "fail")
  if (failed.length === 0) return 0
  return failed.every((c) => c.unreachable === true) ? 3 : 1
}
