/**
 * Compose only through tags (issue 12 §3): the IRP server and client check peers' chains with the
 * `CertVerifier` the caller supplies, not with one they build themselves. A recording mock (delegating to
 * the real verifier) sees every chain; a refusing mock ends the handshake although the real anchors would
 * have accepted it.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { CertError, type VerifyRequest } from "../../../src/domain/cert/verify.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import * as IrpClientLive from "../../../src/layers/irp/client/IrpClientLive.js"
import { CertVerifier, type CertVerifierService } from "../../../src/services/CertVerifier.js"
import {
  buildRegistry,
  connect,
  enrol,
  makeDomain,
  quietLayer,
  reasonOf,
  removeTempDirs,
  sqliteRegistry,
  startServer
} from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

/** The real verifier for the domain, with every request it is asked recorded. */
const recording = () => {
  const seen: Array<VerifyRequest> = []
  const real = Effect.runSync(CertVerifierLive.make({ anchors: [domain.rootCertificate] }))
  const service: CertVerifierService = {
    verify: (request) =>
      Effect.suspend(() => {
        seen.push(request)
        return real.verify(request)
      })
  }
  return { seen, service, layer: Layer.succeed(CertVerifier, service) }
}

/** A verifier that refuses every chain, counting them. */
const refusing = () => {
  let asked = 0
  const service: CertVerifierService = {
    verify: () =>
      Effect.suspend(() => {
        asked++
        return Effect.fail(new CertError({ reason: "UnknownIssuer", message: "refused by the test's mock" }))
      })
  }
  return { asked: () => asked, service, layer: Layer.succeed(CertVerifier, service) }
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b))

describe("a CertVerifier supplied by the caller", () => {
  it.live("is the one the IRP server checks a client's chain with", () =>
    Effect.gen(function* () {
      const registry = yield* buildRegistry(sqliteRegistry())
      const mock = recording()
      const running = yield* startServer(domain, registry, undefined, mock.layer)
      const alice = yield* enrol(running, "alice") // anonymous: nothing to verify on the server's side
      expect(mock.seen).toHaveLength(0)
      yield* Effect.scoped(Effect.flatMap(connect(running, alice.identity), (client) => client.ping))
      expect(mock.seen).toHaveLength(1)
      expect(mock.seen[0]!.purpose).toBe("client-auth")
      expect(sameBytes(mock.seen[0]!.chain[0], alice.identity.chain[0])).toBe(true)

      // The same registry behind a server whose verifier refuses everyone: alice's handshake fails there
      // (the server's unknown_ca alert: "refused our certificate"), though the domain's root would pass it.
      const no = refusing()
      const strict = yield* startServer(domain, registry, undefined, no.layer)
      expect(yield* reasonOf(Effect.scoped(Effect.flatMap(connect(strict, alice.identity), (c) => c.ping)))).toBe(
        "unauthorized"
      )
      expect(no.asked()).toBe(1)
      // An anonymous client presents no chain: the refusing mock is not asked and the server answers.
      yield* Effect.scoped(Effect.flatMap(connect(strict, null), (c) => c.ping))
      expect(no.asked()).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("is the one the IRP client checks the server's chain with", () =>
    Effect.gen(function* () {
      const running = yield* startServer(domain, yield* buildRegistry(sqliteRegistry()))
      const options = { address: running.address, domain: "example.org", identity: null }

      const mock = recording()
      yield* Effect.scoped(
        Effect.flatMap(IrpClientLive.connect(options), (c) => c.ping).pipe(Effect.provide(mock.layer))
      )
      expect(mock.seen).toHaveLength(1)
      expect(mock.seen[0]!.purpose).toBe("server-auth")
      expect(mock.seen[0]!.expectedDnsName).toBe("irp.example.org")
      expect(sameBytes(mock.seen[0]!.chain[0], domain.serverChain[0])).toBe(true)

      const no = refusing()
      const refused = yield* reasonOf(
        Effect.scoped(Effect.flatMap(IrpClientLive.connect(options), (c) => c.ping)).pipe(Effect.provide(no.layer))
      )
      expect(refused).toBe("Channel")
      expect(no.asked()).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )
})
