/**
 * Hostile peers on the IRP port (issue 3, section 5): a server certificate from another domain's CA, DTDs,
 * deep nesting, oversized frames and garbage. Each ends only its own connection; a connection opened
 * before keeps working, and new ones are served.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import { afterAll, beforeAll, describe } from "vitest"

import type { MessageCodec } from "../../../src/domain/channel/codec.js"
import { serverMessageFromElement } from "../../../src/domain/irp/xml.js"
import type { XmlElement } from "../../../src/domain/xml/model.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import { CertVerifier } from "../../../src/services/CertVerifier.js"
import { Transport } from "../../../src/services/Transport.js"
import {
  buildRegistry,
  connect,
  enrol,
  makeDomain,
  quietLayer,
  type Running,
  removeTempDirs,
  sqliteRegistry,
  startServer
} from "./support.js"

let domain: LoadedDomain
let impostor: LoadedDomain
beforeAll(async () => {
  // Two domains of the same name: only their CAs differ.
  ;[domain, impostor] = await Promise.all([makeDomain(), makeDomain()])
})
afterAll(removeTempDirs)

const env = quietLayer
const server = (d: LoadedDomain) => Effect.flatMap(buildRegistry(sqliteRegistry()), (r) => startServer(d, r))
const utf8 = new TextEncoder()
const NS = 'xmlns="urn:sixchat:irp:1"'
const ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"

/** A channel that sends raw documents and hands back parsed elements: lets a test say anything. */
const rawCodec: MessageCodec<XmlElement, Uint8Array> = { encode: (bytes) => bytes, decode: Either.right }
const rawChannel = (running: Running) =>
  Effect.gen(function* () {
    const verifier = yield* CertVerifierLive.make({ anchors: [running.domain.rootCertificate] })
    const channels = yield* makeChannels({ codec: rawCodec, identity: null }).pipe(
      Effect.provideService(CertVerifier, verifier)
    )
    return yield* channels.dial(running.address, { _tag: "DnsName", dnsName: "irp.example.org" })
  })

/** Raw bytes on a plain TCP connection; resolves once the server has closed it. */
const rawTcp = (running: Running, bytes: Uint8Array) =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const conn = yield* transport.dial(running.address)
    yield* conn.write(bytes)
    // Bounded: the server must end the connection, not wait for more.
    for (let i = 0; i < 100; i++) if ((yield* Effect.either(conn.read)).pipe(Either.getOrNull) === null) return true
    return false
  })

describe("hostile input on the IRP port", () => {
  it.live("the client refuses an IRP server whose certificate comes from another domain's CA", () =>
    Effect.gen(function* () {
      const fake = yield* server(impostor)
      const refused = yield* Effect.flip(
        connect({ ...fake, domain }, null) // trusts the real domain's root, dials the impostor
      )
      expect(refused.reason).toBe("Channel")
      expect(refused.message).toMatch(/certificate we do not accept/)
      expect(refused.message).toMatch(/--trust/)
      // ... and a client of the impostor domain would not be accepted by the real server either.
      const real = yield* server(domain)
      const stranger = yield* enrol(fake, "mallory")
      expect((yield* Effect.flip(connect(real, stranger.identity))).reason).toBe("unauthorized")
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("a DTD, deep nesting, an oversized frame or garbage end only their own connection", () =>
    Effect.gen(function* () {
      const running = yield* server(domain)
      const alice = yield* enrol(running, "alice")
      const bystander = yield* connect(running, alice.identity)

      const dtd = utf8.encode(`<!DOCTYPE Ping [<!ENTITY x "y">]><Ping ${NS} id="${ULID}"/>`)
      const deep = utf8.encode(`${"<a>".repeat(17)}${"</a>".repeat(17)}`.replace("<a>", `<a ${NS}>`))
      const billionLaughs = utf8.encode(`<Ping ${NS} id="&lol;"/>`)
      for (const document of [dtd, deep, billionLaughs]) {
        const outcome = yield* Effect.exit(
          Effect.scoped(
            Effect.gen(function* () {
              const channel = yield* rawChannel(running)
              yield* channel.send(document)
              return yield* channel.receive
            })
          )
        )
        expect(Exit.isFailure(outcome)).toBe(true)
        yield* bystander.ping
      }

      // Before the handshake: a frame announcing 16 KiB + 1 bytes, a zero-length frame, garbage.
      const oversized = new Uint8Array([0x00, 0x00, 0x40, 0x01, 0x3c])
      const empty = new Uint8Array([0, 0, 0, 0])
      const garbage = new Uint8Array([0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])
      for (const bytes of [oversized, empty, garbage]) {
        expect(yield* Effect.scoped(rawTcp(running, bytes))).toBe(true)
        yield* bystander.ping
      }
      // New connections are still served.
      expect((yield* Effect.scoped(Effect.flatMap(connect(running, null), (c) => c.status("1" as never)))).status).toBe(
        "unknown"
      )
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("a well-formed request that breaks the schema is answered bad_request; the connection stays usable", () =>
    Effect.gen(function* () {
      const running = yield* server(domain)
      const channel = yield* rawChannel(running)
      const answer = () =>
        Effect.flatMap(channel.receive, (inbound) =>
          inbound._tag === "Message"
            ? Effect.succeed(Either.getOrThrow(serverMessageFromElement(inbound.message)))
            : Effect.die(inbound)
        )
      yield* channel.send(utf8.encode(`<Lookup ${NS} id="${ULID}" handle="Not A Handle"/>`))
      expect(yield* answer()).toMatchObject({ _tag: "irp.Error", id: ULID, code: "bad_request" })
      yield* channel.send(utf8.encode(`<Frobnicate ${NS} id="${ULID}"/>`))
      expect(yield* answer()).toMatchObject({ _tag: "irp.Error", id: ULID, code: "bad_request" })
      yield* channel.send(utf8.encode(`<Ping xmlns="urn:example:other" id="${ULID}"/>`))
      // PROTOCOL.md §17.2.4 (issue 16): the id is echoed whenever it is valid, whatever the namespace.
      expect(yield* answer()).toMatchObject({ _tag: "irp.Error", id: ULID, code: "bad_request" })
      yield* channel.send(utf8.encode(`<Ping ${NS} id="${ULID}"/>`))
      expect(yield* answer()).toEqual({ _tag: "irp.Ok", id: ULID })
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})
