/**
 * The secure channel over real TCP on loopback, IPv4 and IPv6, both roles, both providers, mixed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { type Handle, makeAddress } from "../../src/domain/brands.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { Transport } from "../../src/services/Transport.js"
import { channelsFor, testMessage } from "../support/channels.js"
import { makeTestPki } from "../support/identities.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")
const anchors = [pki.caDer]
const msg = testMessage

const cases = [
  ["127.0.0.1", "node", "node"],
  ["::1", "node", "node"],
  ["127.0.0.1", "noble", "noble"],
  ["::1", "noble", "node"],
  ["127.0.0.1", "node", "noble"]
] as const

describe("secure channel over TCP", () => {
  for (const [host, dialer, listener] of cases) {
    it.live(`${host}: ${dialer} dialer -> ${listener} listener, messages and data both ways`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const transport = yield* Transport
          const server = yield* transport.listen(makeAddress(host, 0))
          const responder = yield* channelsFor({ identity: bob, anchors, provider: listener })
          const initiator = yield* channelsFor({ identity: alice, anchors, provider: dialer })
          const serving = yield* Effect.fork(
            Effect.scoped(
              Effect.gen(function* () {
                const conn = yield* server.accept
                const ch = yield* responder.accept(conn)
                const first = yield* ch.receive
                const data = yield* ch.receive
                yield* ch.send(
                  msg(
                    `echo ${first._tag === "Message" && first.message._tag === "e2e.Message" ? first.message.body : "?"}`
                  )
                )
                yield* ch.sendData(data._tag === "Data" ? data.data.map((b) => b ^ 0xff) : new Uint8Array())
                const end = yield* ch.receive
                return { peer: ch.peer.handle, remote: ch.session.remote.host, end }
              })
            )
          )
          const result = yield* Effect.scoped(
            Effect.gen(function* () {
              const ch = yield* initiator.dial(server.address, { _tag: "Handle", handle: "bob@example.org" as Handle })
              yield* ch.send(msg("ping"))
              const blob = new Uint8Array(60_000).map((_, i) => i & 0xff)
              yield* ch.sendData(blob)
              const reply = yield* ch.receive
              const back = yield* ch.receive
              return { reply, back, blob, peer: ch.peer.handle, code: ch.session.verificationCode }
            })
          )
          const served = yield* Fiber.join(serving)
          expect(result.peer).toBe("bob@example.org")
          expect(served.peer).toBe("alice@example.org")
          expect(served.remote).toBe(host)
          expect(result.reply).toMatchObject({ _tag: "Message", message: { body: "echo ping" } })
          expect(result.back._tag).toBe("Data")
          if (result.back._tag === "Data") expect(result.back.data).toEqual(result.blob.map((b) => b ^ 0xff))
          expect(served.end).toEqual({ _tag: "Closed", reason: undefined })
        })
      ).pipe(Effect.provide(TcpTransport.layer))
    )
  }

  it.live("a failed handshake over TCP is a typed error on both sides", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const transport = yield* Transport
        const server = yield* transport.listen(makeAddress("127.0.0.1", 0))
        const responder = yield* channelsFor({ identity: bob, anchors })
        const initiator = yield* channelsFor({ identity: alice, anchors })
        const serving = yield* Effect.fork(
          Effect.scoped(Effect.flatMap(server.accept, (conn) => responder.accept(conn)))
        )
        const dialed = yield* Effect.exit(
          Effect.scoped(initiator.dial(server.address, { _tag: "Handle", handle: "carol@example.org" as Handle }))
        )
        const served = yield* Fiber.await(serving)
        expect(Exit.isFailure(dialed) && dialed.cause._tag === "Fail" && dialed.cause.error.alert).toBe(
          "identity_mismatch"
        )
        expect(Exit.isFailure(served) && served.cause._tag === "Fail" && served.cause.error.reason).toBe("PeerAlert")
      })
    ).pipe(Effect.provide(TcpTransport.layer))
  )
})
