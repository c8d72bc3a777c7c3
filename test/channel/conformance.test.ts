/**
 * Conformance (issue 11 §1): our endpoint, driven over real loopback TCP by a hand-built initiator
 * (`rawPeer.ts`) that sends exactly the frames, records and documents each rule of PROTOCOL.md is
 * about, and checks what comes back: the alert, the answer, or the message handed to the application.
 */
import { Duration, Effect, Either, Exit, Fiber, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { makeAddress } from "../../src/domain/brands.js"
import { encodeFrame } from "../../src/domain/channel/framing.js"
import { ContentType, MAX_CONTENT } from "../../src/domain/channel/record.js"
import type { AppMessage } from "../../src/domain/e2e/messages.js"
import { makeLocalIdentity } from "../../src/domain/handshake/identity.js"
import { resolveOptions } from "../../src/layers/agent/core/options.js"
import { type ChannelOptions, defaultChannelOptions } from "../../src/layers/channel/SecureChannelLive.js"
import * as NodeCrypto from "../../src/layers/crypto/NodeCrypto.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import type { ChannelError, Inbound, SecureChannel } from "../../src/services/SecureChannel.js"
import { Transport } from "../../src/services/Transport.js"
import { channelsFor } from "../support/channels.js"
import { type Running, start } from "../support/cli.js"
import { makeTestPki } from "../support/identities.js"
import { type OfferEdit, plainFrame, type RawSession, RawSocket, rawHandshake } from "./rawPeer.js"

const pki = makeTestPki()
const alice = pki.identity("alice@example.org")
const bob = pki.identity("bob@example.org")
const anchors = [pki.caDer]
const crypto = NodeCrypto.suite
const aliceId = Either.getOrThrow(makeLocalIdentity(crypto, alice.pkcs8, alice.chain))
const NS = 'xmlns="urn:sixchat:e2e:1"'
const ULID = "01JDQ3ZV8Y6W4R2T0N9M7K5H3G"

/** What our endpoint (the responder) saw: every inbound, then how its channel ended. */
interface Served {
  readonly port: number
  readonly inbound: Array<Inbound<AppMessage>>
  readonly ended: Promise<ChannelError | "closed">
}

const scopes: Array<Scope.CloseableScope> = []
afterEach(async () => {
  for (const s of scopes.splice(0)) await Effect.runPromise(Scope.close(s, Exit.void))
})

/** Our responder on 127.0.0.1: one connection, an application that receives until the channel ends. */
const serve = async (
  options: Partial<ChannelOptions> = {},
  first?: (channel: SecureChannel<AppMessage, AppMessage>) => Effect.Effect<void>
): Promise<Served> => {
  const scope = await Effect.runPromise(Scope.make())
  scopes.push(scope)
  const inbound: Array<Inbound<AppMessage>> = []
  const setup = Effect.gen(function* () {
    const transport = yield* Transport
    const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
    const channels = yield* channelsFor({ identity: bob, anchors, options })
    const run = Effect.scoped(
      Effect.gen(function* () {
        const conn = yield* listener.accept
        const channel = yield* channels.accept(conn)
        if (first !== undefined) yield* first(channel)
        for (;;) {
          const got = yield* channel.receive
          inbound.push(got)
          if (got._tag === "Closed") return "closed" as const
        }
      })
    )
    const fiber = yield* Effect.forkIn(Effect.flip(run), scope)
    return { port: listener.address.port, fiber }
  }).pipe(Effect.provide(TcpTransport.layer))
  const { port, fiber } = await Effect.runPromise(Scope.extend(setup, scope))
  const ended = Effect.runPromise(Fiber.join(fiber)).then(
    (e) => e as ChannelError | "closed",
    () => "closed" as const
  )
  return { port, inbound, ended }
}

const established = async (served: Served, edit?: OfferEdit): Promise<RawSession> => {
  const socket = await RawSocket.open("127.0.0.1", served.port)
  const s = await rawHandshake(socket, crypto, aliceId, edit)
  if ("alert" in s) throw new Error(`the handshake was refused: ${s.alert}`)
  return s
}

/** The code of the sealed `<Alert>` the endpoint sent last before ending the stream. */
const alertOf = async (s: RawSession): Promise<string | undefined> => {
  for (let i = 0; i < 8; i++) {
    const r = await s.nextRecord()
    if (r === null) return undefined
    const m = r.text.match(/^<Alert [^>]*code="([a-z_]+)"/)
    if (m) return m[1]
  }
  return undefined
}

describe("conformance: keep-alive is the channel's (§11.10.2)", () => {
  it("a <Ping nonce> is answered with a <Pong> carrying the same nonce, and handed on", async () => {
    const served = await serve()
    const s = await established(served)
    s.sendXml(`<Ping ${NS} nonce="k7"/>`)
    expect(await s.nextRecord()).toEqual({ type: ContentType.Xml, text: `<Pong ${NS} nonce="k7"/>` })
    s.sendXml(`<Ping ${NS}/>`)
    expect(await s.nextRecord()).toEqual({ type: ContentType.Xml, text: `<Pong ${NS}/>` })
    s.sendXml(`<Close ${NS}/>`)
    expect((await s.nextRecord())?.text).toBe(`<Close ${NS}/>`)
    expect(await served.ended).toBe("closed")
    expect(served.inbound.map((i) => (i._tag === "Message" ? i.message._tag : i._tag))).toEqual([
      "e2e.Ping",
      "e2e.Ping",
      "Closed"
    ])
    s.socket.destroy()
  })
})

describe("conformance: record sizes (§11.6, §12.3)", () => {
  it("65 536 bytes of content are accepted; 65 537 (frame 65 554, under the frame limit) are record_overflow", async () => {
    const served = await serve()
    const s = await established(served)
    s.sendRecord(ContentType.Data, new Uint8Array(MAX_CONTENT).fill(7))
    s.sendRecord(ContentType.Data, new Uint8Array(MAX_CONTENT + 1).fill(7))
    expect(await alertOf(s)).toBe("record_overflow")
    const ended = await served.ended
    expect(ended).toMatchObject({ reason: "Frame", alert: "record_overflow" })
    expect(served.inbound).toHaveLength(1)
    expect(served.inbound[0]).toMatchObject({ _tag: "Data" })
    s.socket.destroy()
  })

  it("a frame over 65 792 is record_overflow from its header alone", async () => {
    const served = await serve()
    const s = await established(served)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 65_793)
    s.socket.write(header)
    expect(await alertOf(s)).toBe("record_overflow")
    expect(await served.ended).toMatchObject({ reason: "Frame", alert: "record_overflow" })
    s.socket.destroy()
  })

  it("an empty inner or an unknown content type is bad_record_mac", async () => {
    for (const inner of [new Uint8Array(0), Uint8Array.of(0x41, 0x03)]) {
      const served = await serve()
      const s = await established(served)
      // sendRecord appends the type byte: send the inner as content of a record whose type byte is its last.
      if (inner.length === 0) s.sendRecord(0 as ContentType, new Uint8Array(0))
      else s.sendRecord(0x03 as ContentType, Uint8Array.of(0x41))
      expect(await alertOf(s)).toBe("bad_record_mac")
      expect(await served.ended).toMatchObject({ reason: "BadRecordMac" })
      s.socket.destroy()
    }
  })
})

describe("conformance: a torn frame and a truncation (§3.3, §3.5, §11.9)", () => {
  it("FIN inside a frame after the handshake is a torn frame: record_overflow", async () => {
    const served = await serve()
    const s = await established(served)
    s.socket.write(encodeFrame(new Uint8Array(40)).subarray(0, 20))
    s.socket.end()
    expect(await alertOf(s)).toBe("record_overflow")
    expect(await served.ended).toMatchObject({ reason: "Frame", alert: "record_overflow" })
  })

  it("FIN at a frame boundary without <Close/> is a truncation: no alert", async () => {
    const served = await serve()
    const s = await established(served)
    s.socket.end()
    expect(await s.nextRecord()).toBeNull()
    expect(await served.ended).toMatchObject({ reason: "Truncated" })
  })

  it("during the handshake: FIN inside the Hello is a torn frame (plaintext record_overflow), at a boundary a truncation (nothing)", async () => {
    const served = await serve()
    const torn = await RawSocket.open("127.0.0.1", served.port)
    torn.write(plainFrame(`<Hello ${NS}/>`).subarray(0, 10))
    torn.end()
    const answer = await torn.frame()
    expect(new TextDecoder().decode(answer!)).toMatch(/^<Alert [^>]*code="record_overflow"/)
    torn.destroy()
    const served2 = await serve()
    const cut = await RawSocket.open("127.0.0.1", served2.port)
    cut.end()
    expect(await cut.frame()).toBeNull()
    cut.destroy()
  })
})

describe("conformance: `sixchat peer listen` as a real process", () => {
  const listen = () => {
    const p = start([
      "peer",
      "listen",
      "--key",
      bob.keyPath,
      "--cert",
      bob.certPath,
      "--trust",
      pki.caPath,
      "--listen",
      "127.0.0.1:0"
    ])
    processes.push(p)
    return p
  }
  const processes: Array<Running> = []
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      p.child.kill("SIGKILL")
      await p.exited
    }
  })
  const port = async (p: Running) => Number((await p.waitFor(/listening on .*:(\d+)/))[1])

  it("answers <Ping/> with <Pong/> (§11.10.2) and still prints messages", async () => {
    const p = listen()
    const socket = await RawSocket.open("127.0.0.1", await port(p))
    const s = await rawHandshake(socket, crypto, aliceId)
    if ("alert" in s) throw new Error(s.alert)
    s.sendXml(`<Ping ${NS} nonce="cli-1"/>`)
    expect(await s.nextRecord()).toEqual({ type: ContentType.Xml, text: `<Pong ${NS} nonce="cli-1"/>` })
    s.sendXml(`<Message ${NS} id="${ULID}" sent="2026-12-05T10:00:00Z"><Body>after the ping</Body></Message>`)
    await p.waitFor(/after the ping/, "stdout")
    s.sendXml(`<Close ${NS}/>`)
    expect((await s.nextRecord())?.text).toBe(`<Close ${NS}/>`)
    expect(await p.exited).toBe(0)
    socket.destroy()
  })

  it("a document that breaks its schema is one line on stderr naming the field, and decode_error", async () => {
    const p = listen()
    const socket = await RawSocket.open("127.0.0.1", await port(p))
    const s = await rawHandshake(socket, crypto, aliceId)
    if ("alert" in s) throw new Error(s.alert)
    s.sendXml(`<Message ${NS} id="not-a-ulid" sent="2026-12-05T10:00:00Z"><Body>x</Body></Message>`)
    expect(await alertOf(s)).toBe("decode_error")
    expect(await p.exited).toBe(1)
    const lines = p.stderr.trim().split("\n")
    expect(lines.at(-1)).toMatch(/^sixchat: Decode \(decode_error\): <Message id="not-a-ulid">: an id is a ULID/)
    expect(lines.length).toBeLessThanOrEqual(3)
    socket.destroy()
  })

  it("<Finished> as the first message is unexpected_message, one line on stderr", async () => {
    const p = listen()
    const socket = await RawSocket.open("127.0.0.1", await port(p))
    socket.write(plainFrame(`<Finished ${NS}>${"A".repeat(43)}=</Finished>`))
    const answer = await socket.frame()
    expect(new TextDecoder().decode(answer!)).toMatch(/^<Alert [^>]*code="unexpected_message"/)
    expect(await p.exited).toBe(1)
    const lines = p.stderr.trim().split("\n")
    expect(lines.at(-1)).toMatch(/^sixchat: Handshake \(unexpected_message\): expected HelloOffer, got Finished/)
    expect(lines.length).toBeLessThanOrEqual(2)
    socket.destroy()
  })
})

describe("conformance: the responder's choices (§6.4)", () => {
  const refusal = async (edit: OfferEdit) => {
    const served = await serve()
    const socket = await RawSocket.open("127.0.0.1", served.port)
    const s = await rawHandshake(socket, crypto, aliceId, edit)
    socket.destroy()
    return "alert" in s ? s.alert : "accepted"
  }

  it("versions are tokens in the responder's preference order: unknown ones are skipped, none known is protocol_version", async () => {
    expect(await refusal((o) => ({ ...o, versions: ["v2", "10", "1"] }))).toBe("accepted")
    expect(await refusal((o) => ({ ...o, versions: ["1", "2.0"] }))).toBe("accepted")
    expect(await refusal((o) => ({ ...o, versions: ["v2", "10"] }))).toBe("protocol_version")
  })

  it("a Version, KeyShare group, Suite or SigAlg listed twice is illegal_parameter", async () => {
    expect(await refusal((o) => ({ ...o, versions: ["1", "1"] }))).toBe("illegal_parameter")
    expect(await refusal((o) => ({ ...o, keyShares: [o.keyShares[0], o.keyShares[0]] }))).toBe("illegal_parameter")
    expect(await refusal((o) => ({ ...o, suites: [o.suites[0], "OTHER", o.suites[0]] }))).toBe("illegal_parameter")
    expect(await refusal((o) => ({ ...o, sigAlgs: ["ed25519", "ecdsa-p256-sha256", "ed25519"] }))).toBe(
      "illegal_parameter"
    )
  })
})

describe("conformance: text limits are bytes of UTF-8 once decoded (§4.5, §5.3.1); chunk up to 65 536 (§5.4.1)", () => {
  const message = (body: string) =>
    `<Message ${NS} id="${ULID}" sent="2026-12-05T10:00:00Z"><Body>${body}</Body></Message>`
  const offer = (chunk: number) => `<FileOffer ${NS} id="${ULID}" name="a.bin" size="1" etag="e1" chunk="${chunk}"/>`

  it("12 900 '&' pass however they are escaped; 64 000 bytes pass; 64 001 are decode_error", async () => {
    const served = await serve()
    const s = await established(served)
    s.sendXml(message("&amp;".repeat(12_900)))
    s.sendXml(message("&#38;".repeat(12_900)))
    s.sendXml(message("é".repeat(32_000)))
    s.sendXml(offer(65_536))
    s.sendXml(message("x".repeat(64_001)))
    expect(await alertOf(s)).toBe("decode_error")
    expect(await served.ended).toMatchObject({ reason: "Decode", alert: "decode_error" })
    const got = served.inbound.map((i) => (i._tag === "Message" ? i.message : undefined))
    expect(got).toHaveLength(4)
    expect(got[0]).toMatchObject({ _tag: "e2e.Message", body: "&".repeat(12_900) })
    expect(got[1]).toMatchObject({ _tag: "e2e.Message", body: "&".repeat(12_900) })
    expect(got[2]).toMatchObject({ _tag: "e2e.Message", body: "é".repeat(32_000) })
    expect(got[3]).toMatchObject({ _tag: "e2e.FileOffer", chunk: 65_536 })
    s.socket.destroy()
  })

  it("a chunk of 65 537 is decode_error", async () => {
    const served = await serve()
    const s = await established(served)
    s.sendXml(offer(65_537))
    expect(await alertOf(s)).toBe("decode_error")
    expect(await served.ended).toMatchObject({ reason: "Decode" })
    s.socket.destroy()
  })
})

describe("conformance: a sender never sends a record over the limit (§11.6)", () => {
  it("a document too large for one record fails that send, with a sentence; the channel goes on", async () => {
    let refused: ChannelError | undefined
    const served = await serve({}, (channel) =>
      Effect.gen(function* () {
        // 20 000 '&' decode to 20 000 bytes (a valid Body) but take 100 000 bytes as written.
        const big: AppMessage = {
          _tag: "e2e.Message",
          id: ULID as never,
          sent: "2026-12-05T10:00:00Z" as never,
          body: "&".repeat(20_000)
        }
        const sent = yield* Effect.either(channel.send(big))
        refused = Either.isLeft(sent) ? sent.left : undefined
        yield* Effect.orDie(channel.send({ ...big, body: "still here" }))
      })
    )
    const s = await established(served)
    expect((await s.nextRecord())?.text).toMatch(/<Body>still here<\/Body>/)
    expect(refused).toMatchObject({ reason: "Frame" })
    expect(refused?.message).toMatch(/at most 65536 bytes .* nothing was sent/)
    s.sendXml(`<Close ${NS}/>`)
    expect(await served.ended).toBe("closed")
    s.socket.destroy()
  })
})

describe("conformance: idle limit and keep-alive numbers (§11.10)", () => {
  it("the defaults are the spec's: channel idle 5 min, write 60 s; UA ping 30 s, dead 90 s, idle close 10 min", () => {
    expect(Duration.toMillis(Duration.decode(defaultChannelOptions.idleTimeout))).toBe(5 * 60_000)
    expect(Duration.toMillis(Duration.decode(defaultChannelOptions.writeTimeout))).toBe(60_000)
    const ua = resolveOptions()
    expect([ua.keepAliveMs, ua.deadAfterMs, ua.idleCloseMs]).toEqual([30_000, 90_000, 10 * 60_000])
  })

  it("Pings keep a channel inside its idle limit; silence past it gets the sealed alert timeout", async () => {
    const served = await serve({ idleTimeout: Duration.seconds(2) })
    const s = await established(served)
    for (let i = 0; i < 6; i++) {
      s.sendXml(`<Ping ${NS} nonce="p${i}"/>`)
      expect((await s.nextRecord())?.text).toBe(`<Pong ${NS} nonce="p${i}"/>`)
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(await alertOf(s)).toBe("timeout")
    expect(await served.ended).toMatchObject({ reason: "IdleTimeout", alert: "timeout" })
    s.socket.destroy()
  })
})
