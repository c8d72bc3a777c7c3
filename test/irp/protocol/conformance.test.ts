/**
 * IRP conformance (issue 16; PROTOCOL.md §17): each rule a second implementation must follow to the
 * letter, driven with hand-built requests over a real channel to a real server (SQLite registry).
 * The CSR profile (17.4.2) is in `csrProfile.test.ts`.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { hostKey, natSuspected } from "../../../src/domain/irp/registry.js"
import { serverMessageFromElement } from "../../../src/domain/irp/xml.js"
import { parseXml } from "../../../src/domain/xml/parse.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import type { ChannelError } from "../../../src/services/SecureChannel.js"
import { openssl, writePem } from "../../ca/cli.js"
import { NS, rawChannel, ULID, UUID7 } from "./raw.js"
import { connect, enrol, makeDomain, quietLayer, removeTempDirs, sqliteServer, tempDir } from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

const env = quietLayer
const E2E = 'xmlns="urn:sixchat:e2e:1"'

describe("IRP conformance (PROTOCOL.md §17)", () => {
  it.live(
    "17.2.4: a refusal echoes the request's id whenever the id itself is valid, namespace and element aside",
    () =>
      Effect.gen(function* () {
        const running = yield* sqliteServer(domain)
        const raw = yield* rawChannel(running)
        const refusedWithId = [
          `<Ping xmlns="urn:sixchat:irp:2" id="${ULID}"/>`, // another version's namespace
          `<Ping id="${ULID}"/>`, // no namespace
          `<Frobnicate ${NS} id="${ULID}"/>`, // unknown element
          `<Ping ${NS} id="${ULID}" colour="blue"/>`, // unknown attribute
          `<Lookup ${NS} id="${ULID}" handle="Alice@Example.org"/>`, // bad attribute value
          `<Lookup ${NS} id="${ULID}"/>`, // missing attribute
          `<Status ${NS} id="${UUID7}" serial="0abc"/>` // a UUIDv7 id works the same
        ]
        for (const document of refusedWithId) {
          const answer = yield* raw.ask(document)
          expect(answer, document).toMatchObject({ _tag: "irp.Error", code: "bad_request" })
          expect((answer as { readonly id?: string }).id, document).toBe(document.includes(UUID7) ? UUID7 : ULID)
        }
        // An id that is itself invalid cannot be echoed: the Error then carries none (the schema allows that).
        for (const document of [
          `<Ping ${NS} id="nope"/>`,
          `<Ping xmlns="urn:sixchat:irp:2" id="x"/>`,
          `<Ping ${NS}/>`
        ]) {
          const answer = yield* raw.ask(document)
          expect(answer, document).toMatchObject({ _tag: "irp.Error", code: "bad_request" })
          expect((answer as { readonly id?: string }).id, document).toBeUndefined()
        }
        // The connection stayed usable through all of it.
        expect(yield* raw.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
      }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("17.10: a schema refusal's message is one sentence that names the attribute and says what is wrong", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const raw = yield* rawChannel(running)
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        [`<Lookup ${NS} id="${ULID}" handle="Alice@Example.org"/>`, /handle="Alice@Example.org".*"alice@example.org"/],
        [`<Ping ${NS} id="not-an-id"/>`, /id="not-an-id".*ULID/],
        [`<Lookup ${NS} id="0123" handle="alice@example.org"/>`, /id="0123"/],
        [`<Status ${NS} id="${ULID}" serial="0ABC"/>`, /serial="0ABC".*lower-case hex/],
        [
          `<Revoke ${NS} id="${ULID}" serial="ab" reason="certificateHold"/>`,
          /reason="certificateHold".*keyCompromise/
        ],
        [
          `<Watch ${NS} id="${ULID}"><Handle>Bob@example.org</Handle></Watch>`,
          /<Handle>Bob@example.org<\/Handle>.*"bob@example.org"/
        ],
        [
          `<Register ${NS} id="${ULID}" device="a b" ttl="60" seq="1"><Address host="::1" port="4605"/></Register>`,
          /device="a b"/
        ],
        [
          `<Register ${NS} id="${ULID}" device="a" ttl="60" seq="1"><Address host="::1" port="0"/></Register>`,
          /port="0".*1 to 65535/
        ],
        [`<Deregister ${NS} id="${ULID}"><Device>a b</Device></Deregister>`, /<Device>a b<\/Device>.*device id/],
        [`<Ping ${NS} id="${ULID}" colour="blue"/>`, /colour/],
        [`<Lookup ${NS} id="${ULID}"/>`, /handle/]
      ]
      for (const [document, names] of cases) {
        const answer = yield* raw.ask(document)
        expect(answer, document).toMatchObject({ _tag: "irp.Error", code: "bad_request" })
        const message = (answer as { readonly message: string }).message
        expect(message, document).toMatch(names)
        // One sentence: one line, a few hundred characters at most, ending with its full stop.
        expect(message, document).not.toMatch(/[\n\r]/)
        expect(message.length, document).toBeLessThanOrEqual(300)
        expect(message, document).toMatch(/\.$/)
        expect(message, document).not.toMatch(/Brand<|readonly |pattern \^|Expected "/)
      }
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live(
    "5.5 / 17.2.4: on port 4604 an E2E document is bad_request and the connection is kept (no decode_error)",
    () =>
      Effect.gen(function* () {
        const running = yield* sqliteServer(domain)
        const raw = yield* rawChannel(running)
        const e2eMessage = `<Message ${E2E} id="${ULID}" sent="2026-11-26T12:00:00.000Z"><Body>hi</Body></Message>`
        const answer = yield* raw.ask(e2eMessage)
        expect(answer).toMatchObject({ _tag: "irp.Error", id: ULID, code: "bad_request" })
        expect((answer as { readonly message: string }).message).toMatch(/urn:sixchat:irp:1/)
        expect(yield* raw.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
      }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("17.1.6: the keep-alive is the IRP <Ping id> in urn:sixchat:irp:1; the E2E <Ping nonce> is refused", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const raw = yield* rawChannel(running)
      const e2ePing = yield* raw.ask(`<Ping ${E2E} nonce="abc"/>`)
      expect(e2ePing).toMatchObject({ _tag: "irp.Error", code: "bad_request" })
      expect((e2ePing as { readonly id?: string }).id).toBeUndefined()
      expect(yield* raw.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("17.2.1: two outstanding requests with one id are each answered once, with that id", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const raw = yield* rawChannel(running)
      // Two CRL requests (served concurrently, 17.1.7) and two Status requests (served inline), all
      // with one id, sent before any answer is read.
      yield* raw.send(`<Crl ${NS} id="${ULID}"/>`)
      yield* raw.send(`<Crl ${NS} id="${ULID}"/>`)
      yield* raw.send(`<Status ${NS} id="${ULID}" serial="1"/>`)
      yield* raw.send(`<Status ${NS} id="${ULID}" serial="2"/>`)
      yield* raw.send(`<Ping ${NS} id="${UUID7}"/>`)
      const answers: Array<{ readonly _tag: string; readonly id?: string }> = []
      for (let i = 0; i < 10; i++) {
        const answer = yield* raw.answer
        answers.push(answer as never)
        const crls = answers.filter((a) => a._tag === "irp.CrlResult").length
        const statuses = answers.filter((a) => a._tag === "irp.StatusResult").length
        const pings = answers.filter((a) => a._tag === "irp.Ok").length
        if (crls === 2 && statuses === 2 && pings === 1) break
      }
      // One CRL is one part here (an empty CRL is a few hundred bytes): two CrlResults, two StatusResults
      // (serial 1 and 2), one Ok, nothing refused, every one carrying the id of its request.
      expect(answers.map((a) => a._tag).sort()).toEqual([
        "irp.CrlResult",
        "irp.CrlResult",
        "irp.Ok",
        "irp.StatusResult",
        "irp.StatusResult"
      ])
      for (const a of answers) expect(a.id).toBe(a._tag === "irp.Ok" ? UUID7 : ULID)
      const serials = answers.flatMap((a) =>
        a._tag === "irp.StatusResult" ? [(a as unknown as { serial: string }).serial] : []
      )
      expect(serials.sort()).toEqual(["1", "2"])
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("17.1.5: a data record ends the connection with the alert unexpected_message, not a <Close/>", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const raw = yield* rawChannel(running)
      expect(yield* raw.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
      yield* raw.channel.sendData(new Uint8Array([1, 2, 3]))
      const ended = yield* Effect.exit(raw.channel.receive)
      expect(Exit.isFailure(ended)).toBe(true)
      const error = Exit.isFailure(ended) ? (ended.cause as { readonly error?: ChannelError }).error : undefined
      expect([error?.reason, error?.alert]).toEqual(["PeerAlert", "unexpected_message"])
      // Only that connection: the server still serves others.
      const other = yield* rawChannel(running)
      expect(yield* other.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("17.8.2: the issuing CA from the handshake chain (or any Issued/LookupResult chain) verifies the CRL", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const alice = yield* enrol(running, "alice")
      const holder = yield* connect(running, alice.identity)
      yield* holder.revoke(alice.serial as never, "keyCompromise")
      const anonymous = yield* connect(running, null)
      // The server's handshake chain: server certificate, issuing CA (17.1.1); the path ends at the root.
      const path = anonymous.server?.path ?? []
      expect(path).toHaveLength(3)
      const issuing = path[1]!
      expect(Buffer.from(alice.identity.chain[1]!)).toEqual(Buffer.from(issuing))
      const crl = yield* anonymous.crl
      const dir = tempDir()
      writePem(dir, "root.pem", "CERTIFICATE", [running.domain.rootCertificate])
      writePem(dir, "issuing.pem", "CERTIFICATE", [issuing])
      writeFileSync(join(dir, "crl.der"), crl)
      // The client checks the issuing CA under its trust anchor first, then the CRL's signature with it.
      expect(openssl(dir, ["verify", "-CAfile", "root.pem", "issuing.pem"]).stdout).toMatch(/issuing.pem: OK/)
      const verified = openssl(dir, ["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "issuing.pem", "-noout"])
      expect(verified.stderr + verified.stdout).toMatch(/verify OK/)
      const text = openssl(dir, ["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"]).stdout
      expect(text.toLowerCase().replace(/:/g, "")).toContain(alice.serial)
      const crlIssuer = openssl(dir, ["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-issuer"]).stdout
      const caSubject = openssl(dir, ["x509", "-in", "issuing.pem", "-noout", "-subject"]).stdout
      expect(crlIssuer.replace(/^issuer=/, "")).toBe(caSubject.replace(/^subject=/, ""))
      // The root does not verify it: the CRL is signed by the issuing CA, not the trust anchor.
      const byRoot = openssl(dir, ["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "root.pem", "-noout"])
      expect(byRoot.stderr + byRoot.stdout).not.toMatch(/verify OK/)
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("17.5.5: natSuspected compares hosts by their binary form; Observed is the connection's source", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const alice = yield* enrol(running, "alice")
      const client = yield* connect(running, alice.identity)
      const cases: ReadonlyArray<readonly [string, boolean]> = [
        ["127.0.0.1", false],
        ["::ffff:127.0.0.1", false],
        ["0:0:0:0:0:FFFF:7F00:1", false], // the same address written long, in upper case
        ["::ffff:7f00:1", false],
        ["127.0.0.2", true],
        ["::1", true], // loopback v6 is another address
        ["localhost", true] // a name is never resolved
      ]
      let seq = 1n
      for (const [host, suspected] of cases) {
        const registration = yield* client.register({
          deviceId: "laptop" as never,
          addresses: [{ host, port: 4605 }] as never,
          ttlSeconds: 300,
          seq: seq++ as never
        })
        expect([host, registration.natSuspected]).toEqual([host, suspected])
        expect(registration.observed?.host).toBe("127.0.0.1")
      }
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})

describe("Registered without Observed (PROTOCOL.md §17.5.5)", () => {
  it("a client reads an answer without <Observed> as an unknown source, natSuspected false", () => {
    const root = Either.getOrThrow(
      parseXml(new TextEncoder().encode(`<Registered ${NS} id="${ULID}" natSuspected="false"/>`))
    )
    expect(Either.getOrThrow(serverMessageFromElement(root))).toEqual({
      _tag: "irp.Registered",
      id: ULID,
      natSuspected: false,
      observed: undefined,
      bindings: []
    })
  })
})

describe("hostKey (PROTOCOL.md §17.5.5)", () => {
  it("one key per address, whatever its text form; names and odd dotted quads stay text", () => {
    const same = (a: string, b: string) => expect([a, b, hostKey(a) === hostKey(b)]).toEqual([a, b, true])
    const differ = (a: string, b: string) => expect([a, b, hostKey(a) === hostKey(b)]).toEqual([a, b, false])
    same("192.0.2.1", "::ffff:192.0.2.1")
    same("192.0.2.1", "0:0:0:0:0:ffff:c000:201")
    same("2001:db8::1", "2001:0DB8:0:0:0:0:0:1")
    same("[2001:db8::1]", "2001:db8::1")
    same("fe80::1%eth0", "fe80::1")
    same("Example.ORG", "example.org.")
    differ("192.0.2.1", "::192.0.2.1") // IPv4-compatible, not mapped: another address
    differ("192.0.2.1", "192.000.002.001") // leading zeros: not read as decimal
    differ("::1", "127.0.0.1")
    expect(natSuspected({ addresses: [{ host: "::ffff:10.0.0.1", port: 1 }] as never, observed: undefined })).toBe(
      false
    )
  })
})
