/**
 * The SixChat key file (docs/KEYS.md) in process: the pure header codec and its bounds, sealing and
 * opening with the real scrypt and AES-256-GCM, tampering, hostile parameters refused before any KDF
 * runs, the home loader over all three key forms, and the 0600 temp-file writes.
 */
import { generateKeyPairSync } from "node:crypto"
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Redacted } from "effect"
import { afterAll } from "vitest"
import { readAgentKey, readHomeKey } from "../../src/cli/agentKey.js"
import {
  type KeyFileKdf,
  nodeScrypt,
  openKey,
  scryptParamsForWriting,
  sealKey,
  writeKeyFile
} from "../../src/cli/keyProtection.js"
import {
  checkScryptParams,
  DEFAULT_SCRYPT,
  decodeKeyFile,
  encodeHeader,
  HEADER_BYTES,
  KEY_FILE_LABEL,
  type KeyFileError,
  passphraseBytes,
  scryptMaxmem,
  scryptMemory
} from "../../src/domain/home/keyFile.js"
import { pemDecode, pemEncode } from "../../src/domain/pem.js"

const dirs: Array<string> = []
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), "sixchat-keyfile-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const env = (entries: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
const pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }))
/** The cheapest parameters a reader accepts, so the suite stays fast. */
const FAST = { log2N: 14, r: 8, p: 1 }
const secret = Redacted.make("correct horse battery staple")

/** A KDF that records its calls and never runs (for files that must be refused first). */
const spyKdf = () => {
  const calls: Array<unknown> = []
  const kdf: KeyFileKdf = (...args) => {
    calls.push(args)
    return Effect.succeed(new Uint8Array(32))
  }
  return { calls, kdf }
}

const body = (pem: string) => pemDecode(pem, KEY_FILE_LABEL)[0]!
const reason = (e: Either.Either<unknown, KeyFileError>) => (Either.isLeft(e) ? e.left.reason : "ok")

/** A well-formed header with the given scrypt parameters, sealed with 32 arbitrary bytes. */
const hostile = (params: { log2N: number; r: number; p: number }) => {
  const out = new Uint8Array(HEADER_BYTES + 64)
  out.set([0x53, 0x58, 0x4b, 0x46, 1, 1, 1, params.log2N])
  const view = new DataView(out.buffer)
  view.setUint32(8, params.r)
  view.setUint32(12, params.p)
  return out
}

describe("key file format (pure)", () => {
  it("the header is 44 bytes: magic, version, KDF, AEAD, log2 N, r, p, salt, nonce", () => {
    const salt = new Uint8Array(16).fill(0xaa)
    const nonce = new Uint8Array(12).fill(0xbb)
    const header = Either.getOrThrow(encodeHeader({ params: DEFAULT_SCRYPT, salt, nonce }))
    expect(Buffer.from(header).toString("hex")).toBe(
      `53584b46 01 01 01 11 00000008 00000001 ${"aa".repeat(16)} ${"bb".repeat(12)}`.replaceAll(" ", "")
    )
    const decoded = Either.getOrThrow(decodeKeyFile(new Uint8Array([...header, ...new Uint8Array(17)])))
    expect(decoded).toMatchObject({ params: DEFAULT_SCRYPT, salt, nonce, header })
  })

  it("refuses unknown versions, KDFs, wrong sizes, and parameters outside the bounds", () => {
    const ok = hostile(FAST)
    expect(reason(decodeKeyFile(ok))).toBe("ok")
    const patched = (offset: number, value: number) => {
      const copy = ok.slice()
      copy[offset] = value
      return decodeKeyFile(copy)
    }
    expect(reason(patched(0, 0x54))).toBe("Format")
    expect(reason(patched(4, 2))).toBe("Version")
    expect(reason(patched(5, 2))).toBe("Version")
    expect(reason(patched(6, 9))).toBe("Version")
    expect(reason(decodeKeyFile(ok.subarray(0, HEADER_BYTES + 16)))).toBe("Format")
    expect(reason(decodeKeyFile(ok.subarray(0, 20)))).toBe("Format")
    expect(reason(decodeKeyFile(new Uint8Array([...ok, ...new Uint8Array(17 * 1024)])))).toBe("Format")
    expect(reason(decodeKeyFile(hostile({ log2N: 13, r: 8, p: 1 })))).toBe("TooWeak")
    expect(reason(decodeKeyFile(hostile({ log2N: 14, r: 7, p: 1 })))).toBe("TooWeak")
    expect(reason(decodeKeyFile(hostile({ log2N: 14, r: 8, p: 0 })))).toBe("TooWeak")
    expect(reason(decodeKeyFile(hostile({ log2N: 30, r: 8, p: 1 })))).toBe("TooCostly")
    expect(reason(decodeKeyFile(hostile({ log2N: 23, r: 8, p: 1 })))).toBe("TooCostly")
    // 2^21 · 8 · 128 = 2 GiB although log2 N is under 22; r = 2^32 - 1 must not wrap around.
    expect(reason(decodeKeyFile(hostile({ log2N: 21, r: 8, p: 1 })))).toBe("TooCostly")
    expect(reason(decodeKeyFile(hostile({ log2N: 14, r: 0xffffffff, p: 1 })))).toBe("TooCostly")
    expect(reason(decodeKeyFile(hostile({ log2N: 14, r: 8, p: 5 })))).toBe("TooCostly")
    expect(reason(checkScryptParams({ log2N: 20, r: 8, p: 1 }))).toBe("ok")
    expect(scryptMemory({ log2N: 20, r: 8, p: 1 })).toBe(2 ** 30)
    expect(scryptMaxmem(DEFAULT_SCRYPT)).toBe(128 * 8 * (2 ** 17 + 3))
  })

  it("passphrases are compared after NFC normalisation", () => {
    expect(passphraseBytes("e\u0301t\u00e9")).toEqual(passphraseBytes("\u00e9te\u0301"))
    expect(Buffer.from(passphraseBytes("\u00e9")).toString("hex")).toBe("c3a9")
  })
})

describe("sealing and opening", () => {
  it.effect("round trip with the real scrypt; a wrong passphrase fails authentication", () =>
    Effect.gen(function* () {
      const pem = yield* sealKey({ pkcs8, passphrase: secret, scrypt: FAST })
      expect(pem).toMatch(/^-----BEGIN SIXCHAT ENCRYPTED PRIVATE KEY-----\n/)
      const file = Either.getOrThrow(decodeKeyFile(body(pem)))
      expect(file.params).toEqual(FAST)
      expect(yield* openKey(file, secret)).toEqual(pkcs8)
      const wrong = yield* Effect.flip(openKey(file, Redacted.make("correct horse battery stapler")))
      expect(wrong).toMatchObject({ reason: "Authentication", message: "wrong passphrase or damaged file" })
      // Fresh salt and nonce on every write.
      const again = yield* sealKey({ pkcs8, passphrase: secret, scrypt: FAST })
      expect(body(again).subarray(16, HEADER_BYTES)).not.toEqual(body(pem).subarray(16, HEADER_BYTES))
      // The same passphrase typed in another Unicode form opens it.
      const composed = yield* sealKey({ pkcs8, passphrase: Redacted.make("caf\u00e9"), scrypt: FAST })
      const decomposed = Either.getOrThrow(decodeKeyFile(body(composed)))
      expect(yield* openKey(decomposed, Redacted.make("cafe\u0301"))).toEqual(pkcs8)
    })
  )

  it.effect("any changed byte of the header (the additional data) or the ciphertext is detected", () =>
    Effect.gen(function* () {
      const sealed = body(yield* sealKey({ pkcs8, passphrase: secret, scrypt: FAST }))
      // log2 N (offset 7) would change the cost; p (offset 15) stays in bounds at 2; salt, nonce, ciphertext, tag.
      for (const offset of [15, 20, 40, HEADER_BYTES + 3, sealed.length - 1]) {
        const copy = sealed.slice()
        copy[offset] = offset === 15 ? 2 : copy[offset]! ^ 0x01
        const file = Either.getOrThrow(decodeKeyFile(copy))
        const refused = yield* Effect.flip(openKey(file, secret))
        expect(refused.reason, `offset ${offset}`).toBe("Authentication")
      }
    })
  )

  it.effect("SIXCHAT_SCRYPT_LOG2N is honoured inside the bounds only", () =>
    Effect.gen(function* () {
      expect(yield* scryptParamsForWriting.pipe(Effect.provide(env({})))).toEqual(DEFAULT_SCRYPT)
      expect(yield* scryptParamsForWriting.pipe(Effect.provide(env({ SIXCHAT_SCRYPT_LOG2N: "14" })))).toEqual(FAST)
      for (const value of ["10", "30", "x"]) {
        const refused = yield* Effect.flip(
          scryptParamsForWriting.pipe(Effect.provide(env({ SIXCHAT_SCRYPT_LOG2N: value })))
        )
        expect(refused.code).toBe(2)
        expect(refused.message).toContain("SIXCHAT_SCRYPT_LOG2N")
      }
    })
  )

  it.effect("the default parameters (N = 2^17, 128 MiB) pass OpenSSL's maxmem as we set it", () =>
    Effect.gen(function* () {
      const derived = yield* nodeScrypt(passphraseBytes("x"), new Uint8Array(16), DEFAULT_SCRYPT)
      expect(derived).toHaveLength(32)
    })
  )
})

describe("the home's key (readAgentKey)", () => {
  const withKey = (text: string) => {
    const h = home()
    writeFileSync(join(h, "key.pem"), text, { mode: 0o600 })
    return h
  }

  it.effect("reads plain, encrypted PKCS#8 and SixChat keys to the same PKCS#8", () =>
    Effect.gen(function* () {
      const provided = Effect.provide(env({ SIXCHAT_PASSPHRASE: Redacted.value(secret) }))
      const plain = withKey(pemEncode("PRIVATE KEY", pkcs8))
      const pbes2 = withKey(
        String(key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: Redacted.value(secret) }))
      )
      const ours = withKey(yield* sealKey({ pkcs8, passphrase: secret, scrypt: FAST }))
      expect(yield* readHomeKey(plain)).toEqual({ pkcs8, protection: "plain" })
      expect(yield* readHomeKey(pbes2).pipe(provided)).toEqual({ pkcs8, protection: "pkcs8-encrypted" })
      expect(yield* readHomeKey(ours).pipe(provided)).toEqual({ pkcs8, protection: "sixchat" })
      expect(yield* readAgentKey(ours).pipe(provided)).toEqual(pkcs8)
      const wrong = yield* Effect.flip(readAgentKey(ours).pipe(Effect.provide(env({ SIXCHAT_PASSPHRASE: "nope" }))))
      expect(wrong).toMatchObject({ code: 1, message: expect.stringContaining("the passphrase is wrong") })
      if (process.stdin.isTTY !== true) {
        const missing = yield* Effect.flip(readAgentKey(ours).pipe(Effect.provide(env({}))))
        expect(missing).toMatchObject({ code: 4, message: expect.stringContaining("set SIXCHAT_PASSPHRASE") })
      }
    })
  )

  it.effect("exactly one key block: two keys, none, or a foreign kind are refused", () =>
    Effect.gen(function* () {
      const ours = yield* sealKey({ pkcs8, passphrase: secret, scrypt: FAST })
      const two = yield* Effect.flip(readAgentKey(withKey(ours + pemEncode("PRIVATE KEY", pkcs8))))
      expect(two).toMatchObject({ code: 4, message: expect.stringContaining("exactly one private key (it holds 2)") })
      const none = yield* Effect.flip(readAgentKey(withKey("nothing here\n")))
      expect(none.message).toContain("it holds 0")
      const sec1 = yield* Effect.flip(readAgentKey(withKey(pemEncode("EC PRIVATE KEY", pkcs8))))
      expect(sec1.message).toContain("openssl pkcs8 -topk8")
    })
  )

  it.effect("a file asking for N = 2^30 is refused before any passphrase or KDF", () =>
    Effect.gen(function* () {
      const { calls, kdf } = spyKdf()
      const h = withKey(pemEncode(KEY_FILE_LABEL, hostile({ log2N: 30, r: 8, p: 1 })))
      const before = process.memoryUsage().rss
      const started = performance.now()
      // No SIXCHAT_PASSPHRASE either: the refusal comes before the passphrase would be asked for.
      const refused = yield* Effect.flip(readHomeKey(h, kdf).pipe(Effect.provide(env({}))))
      expect(performance.now() - started).toBeLessThan(200)
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20)
      expect(calls).toHaveLength(0)
      expect(refused).toMatchObject({ code: 4, message: expect.stringContaining("more work than we accept") })
      // The same file with sane parameters does reach the KDF.
      const sane = withKey(pemEncode(KEY_FILE_LABEL, hostile(FAST)))
      const failed = yield* Effect.flip(readHomeKey(sane, kdf).pipe(Effect.provide(env({ SIXCHAT_PASSPHRASE: "x" }))))
      expect(calls).toHaveLength(1)
      expect(failed.message).toContain("passphrase is wrong")
    })
  )
})

describe("writing key files", () => {
  it.effect("mode 0600 through a temp file; a new key never replaces one; a replacement does", () =>
    Effect.gen(function* () {
      const h = home()
      const file = join(h, "key.pem")
      yield* writeKeyFile(file, "first\n", { replace: false })
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const exists = yield* Effect.flip(writeKeyFile(file, "second\n", { replace: false }))
      expect(exists).toMatchObject({ code: 4, message: expect.stringContaining("already exists") })
      expect(readFileSync(file, "utf8")).toBe("first\n")
      writeFileSync(join(h, "other"), "")
      // A replacement is 0600 whatever the old file's mode was.
      chmodSync(file, 0o644)
      yield* writeKeyFile(file, "third\n", { replace: true })
      expect(readFileSync(file, "utf8")).toBe("third\n")
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(readdirSync(h).sort()).toEqual(["key.pem", "other"])
    })
  )
})
