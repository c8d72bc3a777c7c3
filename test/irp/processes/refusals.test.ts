/**
 * Schema refusals of a real `irp serve` say in one sentence what to fix (issue 10, section 6): a
 * well-formed request that breaks its schema is answered `<Error code="bad_request">` whose message
 * names the attribute, its value and what a good one looks like, not a dump of the Schema's type;
 * the connection stays usable.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAddress } from "../../../src/domain/brands.js"
import type { MessageCodec } from "../../../src/domain/channel/codec.js"
import { serverMessageFromElement } from "../../../src/domain/irp/xml.js"
import { pemDecode } from "../../../src/domain/pem.js"
import type { XmlElement } from "../../../src/domain/xml/model.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import { make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { ok, type Served, serve, stop, type Workspace, workspace } from "../../cli/irpFlow.js"

const NS = 'xmlns="urn:sixchat:irp:1"'
const ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
const rawCodec: MessageCodec<XmlElement, Uint8Array> = { encode: (bytes) => bytes, decode: Either.right }

let ws: Workspace
let served: Served
beforeAll(async () => {
  ws = workspace()
  await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
  served = await serve(ws.dir)
}, 30_000)
afterAll(async () => {
  if (served !== undefined) expect(await stop(served)).toBe(0)
  ws?.cleanup()
})

/** Sends each document on one anonymous connection; the `<Error>` (or other) answer to each. */
const answers = (documents: ReadonlyArray<string>) => {
  const anchors = pemDecode(readFileSync(join(ws.dir, "ca.pem"), "utf8"), "CERTIFICATE")
  return Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const channels = yield* makeChannels({ codec: rawCodec, identity: null })
        const address = parseAddress(served.address)!
        const chan = yield* channels.dial(address, { _tag: "DnsName", dnsName: "irp.example.org" })
        const out: Array<unknown> = []
        for (const d of documents) {
          yield* chan.send(new TextEncoder().encode(d))
          const inbound = yield* chan.receive
          if (inbound._tag !== "Message") return yield* Effect.die(inbound)
          out.push(Either.getOrThrow(serverMessageFromElement(inbound.message)))
        }
        return out
      })
    ).pipe(
      Effect.timeout("20 seconds"),
      Effect.provide(
        Layer.mergeAll(
          CryptoLive.layerFor("node"),
          EntropyLive.layer,
          Layer.orDie(CertVerifierLive.layer({ anchors })),
          TcpTransport.layer
        )
      )
    )
  )
}

describe("IRP schema refusals (a real irp serve)", () => {
  it("say in one sentence which attribute is wrong and why; the connection goes on", async () => {
    const got = await answers([
      `<Lookup ${NS} id="${ULID}" handle="Alice@Example.org"/>`,
      `<Lookup ${NS} id="${ULID}" handle="alice"/>`,
      `<Status ${NS} id="not-an-id" handle="alice@example.org"/>`,
      `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"><Address host="::1" port="65536"/></Register>`,
      `<Ping ${NS} id="${ULID}"/>`
    ])
    expect(got).toEqual([
      {
        _tag: "irp.Error",
        id: ULID,
        code: "bad_request",
        message: '<Lookup handle="Alice@Example.org">: a handle must be lower case: write "alice@example.org".'
      },
      {
        _tag: "irp.Error",
        id: ULID,
        code: "bad_request",
        message:
          '<Lookup handle="alice">: a handle is local@domain in lower case letters, digits and . _ + -, such as alice@example.org.'
      },
      expect.objectContaining({ _tag: "irp.Error", code: "bad_request" }),
      {
        _tag: "irp.Error",
        id: ULID,
        code: "bad_request",
        message: '<Address port="65536">: a port is a whole number from 1 to 65535.'
      },
      { _tag: "irp.Ok", id: ULID }
    ])
    const status = got[2] as { readonly message: string }
    expect(status.message.length).toBeLessThan(200)
    expect(status.message).not.toMatch(/pattern|Brand|readonly/)
  })
})
