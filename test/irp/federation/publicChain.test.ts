/**
 * The IRP's public chain (PROTOCOL.md §22.2.1) made by the `openssl` CLI as a public CA would: stored into
 * a domain directory only when its key matches the leaf, the leaf names irp.<domain> and carries
 * serverAuth; loaded again by `irp serve`; and, for other.net, presented as a federation caller's client
 * certificate that example.org's IRP accepts (§22.2.5).
 */
import { randomBytes } from "node:crypto"
import { statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { pemDecode } from "../../../src/domain/pem.js"
import { initDomain, loadDomain, setPublicChain } from "../../../src/layers/ca/DomainDirectory.js"
import * as TestPki from "../../../src/testing/pki.js"
import { bundle, Ext, makeWorkspace, type OpensslWorkspace } from "../../support/openssl.js"
import { enrol, makeDomain, quietLayer, removeTempDirs, tempDir } from "../protocol/support.js"
import { connectAsIrp, openPolicy, startFederated } from "./support.js"

let ws: OpensslWorkspace
afterAll(async () => {
  removeTempDirs()
  await ws?.cleanup()
})
beforeAll(async () => {
  ws = await makeWorkspace("sixchat-public-chain-")
}, 60_000)

const pkcs8Of = (pem: string) => pemDecode(pem, "PRIVATE KEY")[0]!

/** A "public" root and an intermediate, as a Web PKI CA has, with no name constraints. */
const publicCa = async () => {
  const root = await ws.issue({ subject: "/CN=Test Public Root/O=Test CA", extensions: Ext.root() })
  const intermediate = await ws.issue({
    subject: "/CN=Test Public R1/O=Test CA",
    issuer: root,
    extensions: Ext.intermediate({ pathLen: 0 })
  })
  return { root, intermediate }
}

describe("the public chain (openssl)", () => {
  it.live("is checked, stored (key 0600), recorded in irp.json and loaded; a bad one is refused in one sentence", () =>
    Effect.gen(function* () {
      const { root, intermediate } = yield* Effect.promise(publicCa)
      const issue = (subject: string, extensions: string, key?: "rsa-2048") =>
        Effect.promise(() =>
          ws.issue({ subject, issuer: intermediate, extensions, ...(key === undefined ? {} : { key }) })
        )
      const good = yield* issue("/CN=irp.example.org", Ext.serverLeaf("irp.example.org"))
      const dir = join(tempDir(), "example.org")
      yield* initDomain({ dir, domain: "example.org", now: new Date(), entropy: (n) => new Uint8Array(randomBytes(n)) })
      const chainFile = yield* Effect.promise(() => ws.file("fullchain.pem", bundle(good, intermediate)))

      const stored = yield* setPublicChain(dir, chainFile, good.key.path)
      expect(stored.domain).toBe("example.org")
      expect(statSync(stored.key).mode & 0o777).toBe(0o600)
      const loaded = yield* loadDomain(dir)
      expect(loaded.config.publicChain).toEqual({ cert: "public.pem", key: "public-key.pem" })
      expect(loaded.publicIdentity?.chain).toEqual([good.der, intermediate.der])
      expect(loaded.publicIdentity?.pkcs8).toEqual(pkcs8Of(good.key.pem))

      const refusal = (cert: string, key: string) =>
        Effect.map(Effect.flip(setPublicChain(dir, cert, key)), (e) => e.message)
      const otherName = yield* issue("/CN=irp.other.net", Ext.serverLeaf("irp.other.net"))
      expect(yield* refusal(otherName.path, otherName.key.path)).toContain(
        "cannot be the public chain of irp.example.org: the leaf certificate does not name irp.example.org in its subjectAltName (dNSName)."
      )
      const clientOnly = yield* issue(
        "/CN=irp.example.org",
        Ext.serverLeaf("irp.example.org").replace("extendedKeyUsage = serverAuth", "extendedKeyUsage = clientAuth")
      )
      expect(yield* refusal(clientOnly.path, clientOnly.key.path)).toContain(
        "the leaf certificate lacks the extended key usage serverAuth."
      )
      expect(yield* refusal(good.path, otherName.key.path)).toContain(
        "the key does not match the first (leaf) certificate."
      )
      const rsa = yield* issue("/CN=irp.example.org", Ext.serverLeaf("irp.example.org"), "rsa-2048")
      expect(yield* refusal(rsa.path, rsa.key.path)).toContain("the IRP signs with ECDSA P-256 or Ed25519 only")
      expect(yield* refusal(root.key.path, good.key.path)).toContain("it holds no certificate.")
      // Refusals left the stored chain as it was.
      expect((yield* loadDomain(dir)).publicIdentity?.chain[0]).toEqual(good.der)

      // An ACME client that renewed the file into an unusable one: irp serve's load says so, naming irp.json.
      writeFileSync(join(dir, "public.pem"), otherName.pem)
      const broken = yield* Effect.flip(loadDomain(dir))
      expect(broken.message).toContain(
        'cannot be the public chain of irp.example.org: the key does not match the first (leaf) certificate. (irp.json "publicChain")'
      )
    }).pipe(Effect.provide(quietLayer))
  )

  it.live("other.net's IRP with an openssl-made public chain is taken as a federation caller", () =>
    Effect.gen(function* () {
      const { root, intermediate } = yield* Effect.promise(publicCa)
      const leaf = yield* Effect.promise(() =>
        ws.issue({ subject: "/CN=irp.other.net", issuer: intermediate, extensions: Ext.serverLeaf("irp.other.net") })
      )
      const examplePki = yield* TestPki.make({ domain: "example.org" })
      const anchors = [root.der, examplePki.rootCertificate]
      const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
        policy: openPolicy,
        publicAnchors: anchors,
        publicIdentity: yield* examplePki.server()
      })
      const alice = yield* enrol(running, "alice")
      const irp = yield* connectAsIrp(
        running,
        { chain: [leaf.der, intermediate.der], pkcs8: pkcs8Of(leaf.key.pem) },
        anchors
      )
      expect((yield* irp.lookup(alice.handle)).status).toBe("good")
      expect(running.log.at(-1)).toMatchObject({ peer: "irp.other.net", request: "Lookup", outcome: "ok" })
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )
})
