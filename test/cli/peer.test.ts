/**
 * `sixchat peer listen` / `peer connect` as real processes over loopback TCP, with certificates made by
 * the openssl CLI.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { start } from "../support/cli.js"
import { makeTestPki } from "../support/identities.js"
import { tempDir } from "../support/tempDirs.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")

const listen = (host: string, extra: ReadonlyArray<string> = []) =>
  start([
    "peer",
    "listen",
    "--key",
    bob.keyPath,
    "--cert",
    bob.certPath,
    "--trust",
    pki.caPath,
    "--listen",
    host.includes(":") ? `[${host}]:0` : `${host}:0`,
    ...extra
  ])

/** `peer connect` as Alice, expecting `expect`, to `target`. */
const connectArgs = (expect: string, target: string) => [
  "peer",
  "connect",
  "--key",
  alice.keyPath,
  "--cert",
  alice.certPath,
  "--trust",
  pki.caPath,
  "--expect",
  expect,
  target
]

describe("sixchat peer", () => {
  for (const [host, crypto] of [
    ["127.0.0.1", "node"],
    ["::1", "noble"]
  ] as const) {
    it(`listen and connect on ${host} (${crypto}): handshake line, messages both ways, clean close on EOF`, async () => {
      const server = listen(host, ["--crypto", crypto])
      const port = (await server.waitFor(/listening on .*:(\d+)/))[1]!
      const target = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
      const client = start(connectArgs("bob@example.org", target), { env: { SIXCHAT_CRYPTO: crypto } })
      const line = await client.waitFor(/peer=(\S+) fingerprint=([0-9a-f]{64}) suite=(\S+)/)
      expect(line[1]).toBe("bob@example.org")
      expect(line[3]).toBe("AES_256_GCM_SHA256")
      await server.waitFor(/peer=alice@example\.org fingerprint=[0-9a-f]{64} suite=AES_256_GCM_SHA256/)
      client.child.stdin.write("hello bob\n")
      await server.waitFor(/hello bob\n/, "stdout")
      server.child.stdin.write("hello alice, ünïcödé <&>\n")
      await client.waitFor(/hello alice, ünïcödé <&>\n/, "stdout")
      client.child.stdin.end()
      expect(await client.exited).toBe(0)
      expect(await server.exited).toBe(0)
    })
  }

  it("a handshake with the wrong expected identity exits 1 with the reason on stderr", async () => {
    const server = listen("127.0.0.1")
    const port = (await server.waitFor(/listening on .*:(\d+)/))[1]!
    const client = start(connectArgs("carol@example.org", `127.0.0.1:${port}`))
    client.child.stdin.end()
    expect(await client.exited).toBe(1)
    expect(client.stderr).toMatch(/identity_mismatch/)
    expect(await server.exited).toBe(1)
    expect(server.stderr).toMatch(/PeerAlert \(identity_mismatch\)/)
  })

  it("usage errors exit 2", async () => {
    const bad = start(connectArgs("not a handle", "127.0.0.1:1"))
    bad.child.stdin.end()
    expect(await bad.exited).toBe(2)
    expect(bad.stderr).toMatch(/not a handle like alice@example.org/)
  })

  it("a passphrase-protected key (encrypted PKCS#8 by openssl): used with SIXCHAT_PASSPHRASE, a wrong one exits 1", async () => {
    const encrypted = join(tempDir("sixchat-peer-key-"), "bob.enc.pem")
    execFileSync("openssl", [
      "pkcs8",
      "-topk8",
      "-v2",
      "aes-256-cbc",
      "-in",
      bob.keyPath,
      "-out",
      encrypted,
      "-passout",
      "pass:correct horse"
    ])
    const args = ["peer", "listen", "--key", encrypted, "--cert", bob.certPath, "--trust", pki.caPath]
    const locked = start([...args, "--listen", "127.0.0.1:0"], { env: { SIXCHAT_PASSPHRASE: "wrong horse" } })
    expect(await locked.exited).toBe(1)
    expect(locked.stderr).toMatch(/passphrase is wrong/)
    const server = start([...args, "--listen", "127.0.0.1:0"], { env: { SIXCHAT_PASSPHRASE: "correct horse" } })
    const port = (await server.waitFor(/listening on .*:(\d+)/))[1]!
    const client = start(connectArgs("bob@example.org", `127.0.0.1:${port}`))
    await client.waitFor(/peer=bob@example\.org fingerprint=[0-9a-f]{64}/)
    client.child.stdin.end()
    expect(await client.exited).toBe(0)
    expect(await server.exited).toBe(0)
  })
})
