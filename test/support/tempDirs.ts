/**
 * Temp directories a test file makes at module level (a test PKI with CA private keys, …) and must
 * not leave behind. `tempDir` creates and registers one; `test/support/cleanup.ts`, a vitest setup
 * file, removes every registered directory after the file's tests, whatever their outcome.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const registered = new Set<string>()

/** A new directory under the system temp directory, removed after the current test file. */
export const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  registered.add(dir)
  return dir
}

/** Removes every registered directory (the setup file's `afterAll`). */
export const removeTempDirs = (): void => {
  for (const dir of registered) rmSync(dir, { recursive: true, force: true })
  registered.clear()
}
