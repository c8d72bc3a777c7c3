/**
 * The agent command's home handling: the one-agent-per-home lock, and passphrase-protected keys
 * (encrypted PKCS#8 PEM, passphrase from SIXCHAT_PASSPHRASE).
 */
import { generateKeyPairSync } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, describe } from "vitest"
import { readAgentKey } from "../../../src/cli/agentKey.js"
import { LOCK_FILE, lockHome } from "../../../src/cli/agentLock.js"

const dirs: Array<string> = []
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), "sixchat-agentcli-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const withPassphrase = (passphrase: string | undefined) =>
  Layer.setConfigProvider(
    ConfigProvider.fromMap(new Map(passphrase === undefined ? [] : [["SIXCHAT_PASSPHRASE", passphrase]]))
  )

const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
const plainDer = new Uint8Array(key.export({ type: "pkcs8", format: "der" }))

describe("agent home lock", () => {
  it.effect("a second agent on the same home is refused while the first runs; the lock goes with it", () =>
    Effect.gen(function* () {
      const h = home()
      const first = yield* Scope.make()
      yield* lockHome(h).pipe(Scope.extend(first))
      expect(readFileSync(join(h, LOCK_FILE), "utf8").trim()).toBe(String(process.pid))
      // Another agent holds it: a live process other than us (pid 1 always runs).
      writeFileSync(join(h, LOCK_FILE), "1\n")
      const refused = yield* Effect.flip(Effect.scoped(lockHome(h)))
      expect(refused.message).toContain("already runs")
      writeFileSync(join(h, LOCK_FILE), `${process.pid}\n`)
      yield* Scope.close(first, Exit.void)
      expect(() => readFileSync(join(h, LOCK_FILE))).toThrow()
    })
  )

  it.effect("a lock left by a dead agent is taken over", () =>
    Effect.gen(function* () {
      const h = home()
      writeFileSync(join(h, LOCK_FILE), "999999999\n")
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* lockHome(h)
          expect(readFileSync(join(h, LOCK_FILE), "utf8").trim()).toBe(String(process.pid))
        })
      )
    })
  )
})

describe("agent key", () => {
  it.effect("a plain PKCS#8 key is read as it is", () =>
    Effect.gen(function* () {
      const h = home()
      writeFileSync(join(h, "key.pem"), key.export({ type: "pkcs8", format: "pem" }))
      expect(yield* readAgentKey(h)).toEqual(plainDer)
    })
  )

  it.effect("an encrypted PKCS#8 key is decrypted with SIXCHAT_PASSPHRASE; a wrong or missing one is refused", () =>
    Effect.gen(function* () {
      const h = home()
      writeFileSync(
        join(h, "key.pem"),
        key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" })
      )
      expect(readFileSync(join(h, "key.pem"), "utf8")).toContain("BEGIN ENCRYPTED PRIVATE KEY")
      expect(yield* readAgentKey(h).pipe(Effect.provide(withPassphrase("correct horse")))).toEqual(plainDer)
      const wrong = yield* Effect.flip(readAgentKey(h).pipe(Effect.provide(withPassphrase("battery staple"))))
      expect(wrong.message).toContain("passphrase is wrong")
      // No passphrase and stdin is not a terminal (as under vitest): say how to give one.
      if (process.stdin.isTTY !== true) {
        const missing = yield* Effect.flip(readAgentKey(h).pipe(Effect.provide(withPassphrase(undefined))))
        expect(missing.message).toContain("SIXCHAT_PASSPHRASE")
      }
    })
  )
})
