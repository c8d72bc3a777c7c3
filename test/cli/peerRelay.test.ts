/**
 * Issue 10 §1: a clean close of `peer listen` / `peer connect` through a plain TCP relay exits 0 on
 * both sides. PROTOCOL.md §11.9: the side that closes first sends `<Close/>` and half-closes only once
 * the peer's `<Close/>` came back, so a relay that closes both ways on the first FIN loses nothing.
 */
import { rmSync } from "node:fs"
import { afterAll, describe, expect, it } from "vitest"
import { start } from "../support/cli.js"
import { makeTestPki } from "../support/identities.js"
import { startRelay } from "../support/relay.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }))

const identity = (who: typeof alice) => ["--key", who.keyPath, "--cert", who.certPath, "--trust", pki.caPath]

describe("peer listen / peer connect through a TCP relay", () => {
  for (const halfClose of [false, true]) {
    const relayKind = halfClose ? "a half-closing relay" : "a relay that closes both ways on FIN"
    it(`echo hi | peer connect via ${relayKind}: delivered, both exit 0`, async () => {
      const server = start(["peer", "listen", ...identity(bob), "--listen", "127.0.0.1:0"])
      const port = Number((await server.waitFor(/listening on .*:(\d+)/))[1])
      const relay = await startRelay({ host: "127.0.0.1", port }, { halfClose })
      try {
        const client = start(["peer", "connect", ...identity(alice), "--expect", bob.handle, `127.0.0.1:${relay.port}`])
        client.child.stdin.end("hi\n")
        const [clientCode, serverCode] = await Promise.all([client.exited, server.exited])
        expect({ clientCode, stderr: client.stderr }).toEqual({
          clientCode: 0,
          stderr: expect.stringMatching(/^peer=/)
        })
        expect({ serverCode, stderr: server.stderr }).toEqual({
          serverCode: 0,
          stderr: expect.stringMatching(/peer=alice/)
        })
        expect(server.stdout).toBe("hi\n")
        expect(client.stderr).not.toMatch(/Truncated/)
      } finally {
        await relay.close()
      }
    })

    it(`peer listen closes first via ${relayKind}: both exit 0`, async () => {
      const server = start(["peer", "listen", ...identity(bob), "--listen", "127.0.0.1:0"])
      const port = Number((await server.waitFor(/listening on .*:(\d+)/))[1])
      const relay = await startRelay({ host: "127.0.0.1", port }, { halfClose })
      try {
        const client = start(["peer", "connect", ...identity(alice), "--expect", bob.handle, `127.0.0.1:${relay.port}`])
        await client.waitFor(/peer=bob@example\.org/)
        server.child.stdin.end("bye\n")
        await client.waitFor(/bye\n/, "stdout")
        const [serverCode, clientCode] = await Promise.all([server.exited, client.exited])
        expect({ serverCode, stderr: server.stderr }).toEqual({
          serverCode: 0,
          stderr: expect.stringMatching(/peer=alice/)
        })
        expect({ clientCode, stderr: client.stderr }).toEqual({
          clientCode: 0,
          stderr: expect.stringMatching(/^peer=/)
        })
      } finally {
        await relay.close()
      }
    })
  }
})
