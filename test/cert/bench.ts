/**
 * Micro-benchmark of CertVerifierLive (not a test): `npx vite-node test/cert/bench.ts`.
 * Prints the mean time per verification of a leaf + anchor P-256 chain and of a
 * leaf + intermediate + anchor chain, plus the parse share.
 */
import { Effect } from "effect"
import { parseCertificate } from "../../src/domain/cert/parse.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import { Ext, makeWorkspace } from "../support/openssl.js"

const time = (label: string, n: number, f: () => unknown) => {
  for (let i = 0; i < Math.min(n, 2000); i++) f()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) f()
  const us = ((performance.now() - t0) / n) * 1000
  console.log(`${label.padEnd(52)} ${us.toFixed(1).padStart(8)} µs`)
}

const main = async () => {
  const ws = await makeWorkspace()
  try {
    const root = await ws.issue({ subject: "/O=Example/CN=Example Root", extensions: Ext.root() })
    const int = await ws.issue({ subject: "/O=Example/CN=Issuing", issuer: root, extensions: Ext.intermediate() })
    const direct = await ws.issue({
      subject: "/CN=alice@example.org",
      issuer: root,
      extensions: Ext.clientLeaf("alice@example.org")
    })
    const leaf = await ws.issue({
      subject: "/CN=alice@example.org",
      issuer: int,
      extensions: Ext.clientLeaf("alice@example.org")
    })
    const verifier = Effect.runSync(CertVerifierLive.make({ anchors: [root.der] }))
    const sync = CertVerifierLive.makeVerifySync({ anchors: [root.der] })
    const cold = CertVerifierLive.makeVerifySync({ anchors: [root.der], signatureCacheSize: 0 })
    const at = Date.now()
    const n = 20_000
    const one = { chain: [direct.der], purpose: "client-auth" as const }
    const two = { chain: [leaf.der, int.der], purpose: "client-auth" as const }
    time("parse one P-256 leaf", n, () => parseCertificate(direct.der))
    time("no signature cache: leaf + anchor (P-256)", n, () => cold(one, at))
    time("no signature cache: leaf + intermediate + anchor", n, () => cold(two, at))
    time("signature cache warm: leaf + anchor (P-256)", n, () => sync(one, at))
    time("signature cache warm: leaf + intermediate + anchor", n, () => sync(two, at))
    time("CertVerifier.verify leaf + anchor, Effect.runSync", n, () => Effect.runSync(verifier.verify(one)))
    time("CertVerifier.verify leaf + int + anchor, Effect.runSync", n, () => Effect.runSync(verifier.verify(two)))
  } finally {
    await ws.cleanup()
  }
}

void main()
