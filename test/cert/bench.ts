/**
 * Micro-benchmark of CertVerifierLive (not a test): `npx vite-node test/cert/bench.ts`.
 * Prints the mean time per verification of a leaf + anchor P-256 chain and of a
 * leaf + intermediate + anchor chain, plus the parse share; and of the hostile cases the budgets of
 * PROTOCOL.md §13.7 bound: many names against many name constraints.
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

    // Hostile: 1,000 dNSName constraints in an intermediate, leaves with 60 and 100 SAN names.
    const manyNc = Array.from({ length: 1000 }, (_, i) => `permitted;DNS:d${i}.e`).join(", ")
    const ncInt = await ws.issue({
      subject: "/CN=Many NC",
      issuer: root,
      extensions: Ext.intermediate({ extra: `nameConstraints = critical, ${manyNc}\n` })
    })
    const names = (k: number) =>
      Ext.serverLeaf("d0.e").replace("DNS:d0.e", Array.from({ length: k }, (_, i) => `DNS:d${i}.e`).join(", "))
    const [sixty, hundred] = await Promise.all(
      [60, 100].map((k) => ws.issue({ subject: "/CN=d0.e", issuer: ncInt, extensions: names(k) }))
    )
    const within = { chain: [sixty!.der, ncInt.der], purpose: "server-auth" as const }
    const over = { chain: [hundred!.der, ncInt.der], purpose: "server-auth" as const }
    time("60 names x 1,000 constraints (60,000 comparisons)", 200, () => sync(within, at))
    time("100 names x 1,000 constraints (over budget: refused)", 200, () => sync(over, at))
  } finally {
    await ws.cleanup()
  }
}

void main()
