/**
 * How the IRP client's multiplexer sends (PROTOCOL.md §17): through the channel's fast path
 * (`SecureChannel.trySend`) when it takes the request, through `send` when it does not or when the
 * channel has none, and a request whose send fails fails with the channel's reason and leaves no entry
 * behind. Over a real secure channel to our server on loopback, wrapped to count (or refuse) fast sends.
 */
import { expect, it } from "@effect/vitest"
import { Duration, Effect, Either } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import type { Changed, IrpAnswer, IrpRequest } from "../../../src/domain/irp/messages.js"
import { irpClientCodec } from "../../../src/domain/irp/xml.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import { startMultiplexer } from "../../../src/layers/irp/client/multiplexer.js"
import { makeRequests } from "../../../src/layers/irp/client/requests.js"
import { CertVerifier } from "../../../src/services/CertVerifier.js"
import { cryptoSuite } from "../../../src/services/Crypto.js"
import { Entropy } from "../../../src/services/Entropy.js"
import type { IrpConnectOptions } from "../../../src/services/IrpClient.js"
import type { SecureChannel } from "../../../src/services/SecureChannel.js"
import { enrol, handle, makeDomain, quietLayer, type Running, removeTempDirs, sqliteServer } from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

type ClientChannel = SecureChannel<IrpAnswer | Changed, IrpRequest>

/** How the wrapped channel treats fast sends. */
type FastPath = "take" | "refuse" | "absent"

/** A secure channel to `running` as `identity`, its sends counted, its fast path as `fast` says. */
const dial = (running: Running, identity: NonNullable<IrpConnectOptions["identity"]>, fast: FastPath) =>
  Effect.gen(function* () {
    const crypto = yield* cryptoSuite
    const local = Either.getOrThrow(makeLocalIdentity(crypto, identity.pkcs8, identity.chain))
    const verifier = yield* CertVerifierLive.make({ anchors: [running.domain.rootCertificate] })
    const channels = yield* makeChannels({ codec: irpClientCodec, identity: local }).pipe(
      Effect.provideService(CertVerifier, verifier)
    )
    const serverName = `irp.${running.domain.config.domain}`
    const channel: ClientChannel = yield* channels.dial(running.address, { _tag: "DnsName", dnsName: serverName })
    const counts = { fast: 0, sends: 0 }
    const wrapped: ClientChannel = {
      ...channel,
      send: (message) => {
        counts.sends++
        return channel.send(message)
      },
      trySend:
        fast === "absent"
          ? undefined
          : (message) => {
              if (fast === "refuse") return false
              const sent = channel.trySend?.(message) === true
              if (sent) counts.fast++
              return sent
            }
    }
    const endpoint = { address: running.address, serverName }
    const mux = yield* startMultiplexer(wrapped, endpoint, Duration.seconds(30), yield* Entropy)
    const client = makeRequests(mux, endpoint, identity, channel.peer.certificate, Effect.void, channel.close())
    return { client, counts }
  })

describe("IRP client sends", () => {
  for (const fast of ["take", "refuse", "absent"] as const)
    it.live(`lookups are answered whether the fast path is taken, refused or absent (${fast})`, () =>
      Effect.gen(function* () {
        const running = yield* sqliteServer(domain)
        const alice = yield* enrol(running, "alice")
        const { client, counts } = yield* dial(running, alice.identity, fast)
        const handles = Array.from({ length: 24 }, (_, i) => handle(`user${i}`))
        // One after another (the fast path is free each time), then all at once.
        for (const h of handles.slice(0, 4)) expect((yield* client.lookup(h)).handle).toBe(h)
        const results = yield* Effect.forEach(handles, (h) => client.lookup(h), { concurrency: "unbounded" })
        expect(results.map((r) => r.handle)).toEqual(handles)
        const requests = 4 + handles.length
        expect(counts.fast + counts.sends).toBe(requests)
        if (fast === "take") {
          // Sequential requests find the channel free: each of them goes by the fast path.
          expect(counts.fast).toBeGreaterThanOrEqual(4)
        } else expect([counts.fast, counts.sends]).toEqual([0, requests])
        expect(
          yield* client.register({
            deviceId: "laptop" as never,
            addresses: [{ host: "192.0.2.1", port: 4605 }] as never,
            ttlSeconds: 60,
            seq: 1n as never
          })
        ).toMatchObject({ bindings: [expect.objectContaining({ deviceId: "laptop" })] })
      }).pipe(Effect.scoped, Effect.provide(quietLayer))
    )

  it.live("a request whose send fails fails with the channel's reason; the send is not retried", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const alice = yield* enrol(running, "alice")
      const { client, counts } = yield* dial(running, alice.identity, "take")
      yield* client.lookup(handle("bob"))
      yield* client.close
      const failed = yield* Effect.flip(client.lookup(handle("bob")))
      expect(failed.reason).toBe("Channel")
      // The closed channel refused the fast path, and `send` reported the failure (or the reader had
      // already seen the end): either way nothing was sent after the close.
      expect(counts.fast).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )
})
