import { randomBytes } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll } from "vitest"
import type { Handle } from "../../src/domain/brands.js"
import { pemDecode } from "../../src/domain/pem.js"
import { verifyCsr } from "../../src/layers/ca/csr.js"
import { IdentityFile, newIdentity } from "../../src/layers/ca/Identity.js"
import { openssl, removeTempDirs, tempDir } from "./cli.js"

afterAll(removeTempDirs)

const entropy = (n: number) => new Uint8Array(randomBytes(n))
const alice = "alice@example.org" as Handle

describe("newIdentity (sixchat id new)", () => {
  it.effect("writes a 0600 PKCS#8 key and a CSR for the handle; never overwrites the key", () =>
    Effect.gen(function* () {
      const home = join(tempDir(), "home", ".sixchat")
      const made = yield* newIdentity({ home, handle: alice, entropy })
      expect(statSync(home).mode & 0o777).toBe(0o700)
      expect(statSync(made.keyPath).mode & 0o777).toBe(0o600)
      expect(made.keyPath).toBe(join(home, IdentityFile.key))
      const keyText = readFileSync(made.keyPath, "utf8")
      expect(pemDecode(keyText, "PRIVATE KEY")).toHaveLength(1)
      const [csr] = pemDecode(readFileSync(made.csrPath, "utf8"), "CERTIFICATE REQUEST")
      expect(csr).toEqual(made.csrDer)
      expect((yield* verifyCsr(made.csrDer, alice)).spki).toEqual(made.spki)
      expect(openssl(home, ["req", "-in", IdentityFile.csr, "-verify", "-noout"]).status).toBe(0)

      const again = yield* Effect.flip(newIdentity({ home, handle: alice, entropy }))
      expect(again.reason).toBe("Exists")
      expect(readFileSync(made.keyPath, "utf8")).toBe(keyText)
    })
  )
})
