/**
 * The core IRP flow over real TCP (PROTOCOL.md §17; issue 3, section 5), run against each storage:
 * enrol (anonymous) -> register -> look up by another user -> watch -> renew -> revoke -> lookup says
 * revoked -> the revoked holder is refused, on its open connection and at the next handshake.
 */
import { X509Certificate } from "node:crypto"
import { expect, it } from "@effect/vitest"
import { Effect, Fiber, type Layer, Stream } from "effect"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import type { IrpRegistry } from "../../../src/services/IrpRegistry.js"
import { baseLayer, buildRegistry, connect, enrol, handle, newKey, reasonOf, startServer } from "./support.js"

const v4 = (port: number) => ({ host: "127.0.0.1", port }) as never

export const flowSuite = (name: string, domain: () => LoadedDomain, storage: () => Layer.Layer<IrpRegistry, unknown>) =>
  it.live(`${name}: enrol, register, look up, watch, renew, revoke; the revoked holder is refused`, () =>
    Effect.gen(function* () {
      const running = yield* startServer(domain(), yield* buildRegistry(storage()))
      const alice = yield* enrol(running, "alice")
      const bob = yield* enrol(running, "bob")
      // The chain is [leaf, issuing CA] and names the handle (PROTOCOL.md §13).
      expect(alice.identity.chain).toHaveLength(2)
      const leaf = new X509Certificate(alice.identity.chain[0]!)
      expect(leaf.subjectAltName).toBe("email:alice@example.org")
      expect(leaf.serialNumber.toLowerCase().replace(/^0+/, "")).toBe(alice.serial)

      const aliceClient = yield* connect(running, alice.identity)
      const bobClient = yield* connect(running, bob.identity)
      expect(aliceClient.handle).toBe("alice@example.org")
      expect(aliceClient.server?.dnsNames).toContain("irp.example.org")

      // Bob watches Alice before she registers: the push arrives as soon as she does.
      const changes = yield* bobClient.watch([alice.handle])
      const firstChange = yield* Effect.fork(Stream.runHead(changes))

      const registered = yield* aliceClient.register({
        deviceId: DeviceId.make("laptop"),
        addresses: [v4(4605), { host: "2001:db8::5", port: 4605 } as never],
        ttlSeconds: 300,
        seq: Seq.make(1n)
      })
      expect(registered.observed?.host).toBe("127.0.0.1")
      expect(registered.natSuspected).toBe(false)
      expect(registered.bindings.map((b) => b.deviceId)).toEqual(["laptop"])

      const pushed = yield* Fiber.join(firstChange)
      expect(pushed._tag === "Some" && pushed.value).toMatchObject({
        handle: "alice@example.org",
        status: "good",
        bindings: [{ deviceId: "laptop", seq: 1n }]
      })

      // A second device behind a NAT: the observed address is none of the registered ones.
      const phone = yield* aliceClient.register({
        deviceId: DeviceId.make("phone"),
        addresses: [{ host: "198.51.100.7", port: 4605 } as never],
        ttlSeconds: 60,
        seq: Seq.make(1n)
      })
      expect(phone.natSuspected).toBe(true)
      expect(phone.bindings.map((b) => b.deviceId)).toEqual(["laptop", "phone"])

      const found = yield* bobClient.lookup(alice.handle)
      expect(found.status).toBe("good")
      expect(found.chain[0]).toEqual(alice.identity.chain[0])
      expect(found.bindings.map((b) => [b.deviceId, b.addresses.length])).toEqual([
        ["laptop", 2],
        ["phone", 1]
      ])
      const expires = found.bindings[0]!.expiresAt - Date.now()
      expect(expires).toBeGreaterThan(200_000)
      expect(expires).toBeLessThanOrEqual(300_000)

      const status = yield* bobClient.status(alice.serial as never)
      expect(status.status).toBe("good")

      // Renew: a new certificate for the same handle (a new key here).
      const key = yield* newKey
      const renewed = yield* aliceClient.renew(yield* key.csrFor(alice.handle))
      expect(renewed.serial).not.toBe(alice.serial)
      expect(new X509Certificate(renewed.chain[0]!).subjectAltName).toBe("email:alice@example.org")

      // Revoking the first certificate on its own connection: the next request there is refused.
      yield* aliceClient.revoke(alice.serial as never, "superseded")
      expect(yield* reasonOf(aliceClient.lookup(bob.handle))).toBe("unauthorized")
      expect((yield* bobClient.status(alice.serial as never)).status).toBe("revoked")
      // ... and a new handshake with it is refused.
      expect(yield* reasonOf(Effect.scoped(connect(running, alice.identity)))).toBe("unauthorized")
      // The renewed certificate is good, so Alice is still good.
      expect((yield* bobClient.lookup(alice.handle)).status).toBe("good")

      // Revoking the renewed one too: Alice is revoked; her bindings are no longer handed out.
      const renewedIdentity = { pkcs8: key.pkcs8, chain: renewed.chain }
      const aliceAgain = yield* connect(running, renewedIdentity)
      yield* aliceAgain.revoke(renewed.serial, "keyCompromise")
      const afterRevoke = yield* bobClient.lookup(alice.handle)
      expect(afterRevoke.status).toBe("revoked")
      expect(afterRevoke.bindings).toEqual([])
      expect(afterRevoke.chain[0]).toEqual(renewed.chain[0])
      expect(yield* reasonOf(aliceAgain.ping)).toBe("unauthorized")

      // The CRL lists both, signed by the issuing CA.
      const crl = yield* bobClient.crl
      expect(crl.length).toBeGreaterThan(100)
      const hex = Buffer.from(crl).toString("hex")
      expect(hex).toContain(alice.serial.padStart(alice.serial.length + (alice.serial.length % 2), "0"))
      expect(hex).toContain(renewed.serial.padStart(renewed.serial.length + (renewed.serial.length % 2), "0"))

      // An unknown handle of the domain is simply unknown.
      const nobody = yield* bobClient.lookup(handle("nobody"))
      expect(nobody).toEqual({ handle: "nobody@example.org", status: "unknown", chain: [], bindings: [] })
    }).pipe(Effect.scoped, Effect.provide(baseLayer))
  )
