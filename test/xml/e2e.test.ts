import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { E2E_NAMESPACE, Message } from "../../src/domain/e2e/messages.js"
import { decodeE2E, e2eFromElement, e2eToElement, encodeE2E, type HelloKind } from "../../src/domain/e2e/xml.js"
import type { DecodeError } from "../../src/domain/xml/DecodeError.js"
import { serialiseXml } from "../../src/domain/xml/write.js"
import { allTags, bytes, samples, ULID } from "./samples.js"

const utf8 = (s: string) => new TextEncoder().encode(s)
const NS = 'xmlns="urn:sixchat:e2e:1"'

const decodeFail = (xml: string, hello: HelloKind = "offer"): DecodeError => {
  const r = decodeE2E(utf8(xml), hello)
  if (Either.isRight(r)) throw new Error(`expected a DecodeError for ${xml.slice(0, 200)}, got ${r.right._tag}`)
  return r.left
}

describe("E2E XML mapping: round trips", () => {
  it("the samples cover every message type", () => {
    expect(new Set(samples.map((s) => s.message._tag))).toEqual(new Set(allTags))
  })

  for (const sample of samples) {
    it(`${sample.label}: typed -> bytes -> typed is the identity, and re-encoding gives the same bytes`, () => {
      const encoded = encodeE2E(sample.message)
      const decoded = decodeE2E(encoded, sample.hello)
      expect(decoded).toEqual(Either.right(sample.message))
      expect(encodeE2E(Either.getOrThrow(decoded))).toEqual(encoded)
      expect(e2eFromElement(e2eToElement(sample.message), sample.hello)).toEqual(Either.right(sample.message))
    })
  }

  it("writes the documented shapes", () => {
    const text = (label: string) => serialiseXml(e2eToElement(samples.find((s) => s.label === label)!.message))
    expect(text("ack-ulid")).toBe(`<Ack ${NS} id="${ULID}"/>`)
    expect(text("key-update")).toBe(`<KeyUpdate ${NS}/>`)
    expect(text("certificate-empty")).toBe(`<Certificate ${NS}/>`)
    expect(text("alert-description")).toBe(
      `<Alert ${NS} code="bad_certificate" description="bad &lt;cert&gt; &amp; &quot;quotes&quot; 'apos'&#9;tab&#10;newline&#13;&#10;crlf ünïcødé 😀 ]]&gt;"/>`
    )
    expect(text("message-markup")).toContain(
      "<Body>&lt;&amp;&gt;\"' &amp;amp; &amp;#65; ]]&gt; &lt;!-- not a comment --&gt; &lt;?pi?&gt; &lt;![CDATA[x]]&gt;</Body>"
    )
    expect(text("message-whitespace")).toContain("<Body> \t&#13;\n&#13;  \n </Body>")
    expect(text("hello-choice")).toMatch(
      /^<Hello xmlns="urn:sixchat:e2e:1" random="[A-Za-z0-9+/]{43}="><Version>1<\/Version><KeyShare group="x25519">[A-Za-z0-9+/=]{44}<\/KeyShare><Suite>aes256gcm-sha256<\/Suite><\/Hello>$/
    )
    expect(text("file-offer-empty")).toMatch(/^<FileOffer [^>]* size="0" etag="e" chunk="1"\/>$/)
    expect(text("file-done")).toMatch(/^<FileDone [^>]* sha256="[0-9a-f]{64}"\/>$/)
    expect(text("file-offer-edges")).toContain('size="9223372036854775807"')
  })

  it("accepts an XML declaration, a UTF-8 BOM, comments, whitespace and a prefixed namespace", () => {
    const xml =
      '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<!-- hi -->\n' +
      `<e:Message xmlns:e="urn:sixchat:e2e:1" sent="2024-05-01T12:34:56Z" id='${ULID}'>\n  <!-- c -->\n  <e:Body>a&#x1F600;&lt;b</e:Body>\n</e:Message>\n`
    expect(decodeE2E(utf8(xml))).toEqual(
      Either.right({ _tag: "e2e.Message", id: ULID, sent: "2024-05-01T12:34:56Z", body: "a😀<b" })
    )
  })
})

describe("E2E XML mapping: strict decoding", () => {
  const ack = (attrs: string, content = "") =>
    content === "" ? `<Ack ${NS} ${attrs}/>` : `<Ack ${NS} ${attrs}>${content}</Ack>`
  const b64 = (n: number, seed = 1) => Buffer.from(bytes(n, seed)).toString("base64")

  it("refuses the wrong namespace, no namespace, and unknown root elements", () => {
    expect(decodeFail(`<Ack xmlns="urn:sixchat:irp:1" id="${ULID}"/>`).reason).toBe("Namespace")
    expect(decodeFail(`<Ack id="${ULID}"/>`).reason).toBe("Namespace")
    expect(decodeFail(`<Nope ${NS}/>`).reason).toBe("UnknownElement")
    expect(decodeFail(`<Body ${NS}/>`).reason).toBe("UnknownElement")
    expect(decodeFail(`<toString ${NS}/>`).reason).toBe("UnknownElement")
  })

  it("wraps parser refusals as reason Xml with the XmlError as cause", () => {
    const e = decodeFail(`<!DOCTYPE a><Ack ${NS} id="${ULID}"/>`)
    expect(e.reason).toBe("Xml")
    expect(e.cause).toMatchObject({ _tag: "XmlError", reason: "Doctype" })
  })

  it("refuses unknown, missing and malformed attributes", () => {
    expect(decodeFail(ack(`id="${ULID}" extra="1"`)).message).toMatch(/does not take an attribute extra/)
    expect(decodeFail(`<Ack ${NS}/>`).message).toMatch(/needs an attribute id/)
    expect(decodeFail(ack(`id="${ULID.toLowerCase()}"`)).reason).toBe("Schema")
    expect(decodeFail(ack(`id=" ${ULID}"`)).reason).toBe("Schema")
    expect(decodeFail(`<Typing ${NS} state="typing"/>`).reason).toBe("Schema")
    expect(decodeFail(`<Alert ${NS} code="nope"/>`).reason).toBe("Schema")
    expect(decodeFail(`<Close ${NS} reason="a b"/>`).reason).toBe("Schema")
    expect(decodeFail(`<Message ${NS} id="${ULID}" sent="2024-05-01 12:34:56Z"><Body/></Message>`).reason).toBe(
      "Schema"
    )
  })

  it("refuses text or children in empty elements, and unknown or misplaced children", () => {
    expect(decodeFail(ack(`id="${ULID}"`, " ")).message).toMatch(/must be empty/)
    expect(decodeFail(ack(`id="${ULID}"`, "<Body/>")).reason).toBe("Schema")
    expect(decodeFail(`<KeyUpdate ${NS}><KeyUpdate/></KeyUpdate>`).reason).toBe("Schema")
    const msg = (inner: string) => `<Message ${NS} id="${ULID}" sent="2024-05-01T12:34:56Z">${inner}</Message>`
    expect(decodeFail(msg("<Body/><Body/>")).reason).toBe("Schema")
    expect(decodeFail(msg("")).reason).toBe("Schema")
    expect(decodeFail(msg("<Body/><Extra/>")).reason).toBe("UnknownElement")
    expect(decodeFail(msg('<Body xmlns="urn:other"/>')).reason).toBe("UnknownElement")
    expect(decodeFail(msg('<Body lang="en"/>')).reason).toBe("Schema")
    expect(decodeFail(msg("<Body><b>x</b></Body>")).reason).toBe("Schema")
    expect(decodeFail(`<Certificate ${NS}><Cert>${b64(10)}</Cert><Finished/></Certificate>`).reason).toBe(
      "UnknownElement"
    )
  })

  it("refuses non-canonical base64 and wrong sizes", () => {
    const mac = b64(32)
    expect(decodeFail(`<Finished ${NS}>${mac.slice(0, 42)}B=</Finished>`).message).toMatch(/canonical base64/)
    expect(decodeFail(`<Finished ${NS}> ${mac}</Finished>`).reason).toBe("Schema")
    expect(decodeFail(`<Finished ${NS}>${mac.slice(0, 20)}\n${mac.slice(20)}</Finished>`).reason).toBe("Schema")
    expect(decodeFail(`<Finished ${NS}>${mac.slice(0, 43)}</Finished>`).reason).toBe("Schema")
    expect(decodeFail(`<Finished ${NS}>${b64(31)}</Finished>`).message).toMatch(/exactly 32 bytes/)
    expect(decodeFail(`<Finished ${NS}>${mac.replace("=", "")}</Finished>`).reason).toBe("Schema")
    expect(decodeFail(`<Finished ${NS}>${b64(30)}-_</Finished>`).reason).toBe("Schema")
    expect(decodeFail(`<CertificateVerify ${NS} alg="ed25519">${b64(513)}</CertificateVerify>`).reason).toBe("Schema")
    const six = Array.from({ length: 6 }, () => `<Cert>${b64(3)}</Cert>`).join("")
    expect(decodeFail(`<Certificate ${NS}>${six}</Certificate>`).reason).toBe("Schema")
  })

  it("refuses non-canonical numbers and digests", () => {
    const offer = (size: string, chunk: string, etag = "v1") =>
      `<FileOffer ${NS} id="${ULID}" name="a" size="${size}" etag="${etag}" chunk="${chunk}"/>`
    const done = (sha: string) => `<FileDone ${NS} id="${ULID}" sha256="${sha}"/>`
    const hex = "ab".repeat(32)
    expect(Either.isRight(decodeE2E(utf8(offer("10", "10"))))).toBe(true)
    expect(Either.isRight(decodeE2E(utf8(done(hex))))).toBe(true)
    // 5.4.1 admits chunk up to 65 536 and size up to 2^63 - 1: the receiver, not the schema, refuses them (5.4.6).
    expect(Either.isRight(decodeE2E(utf8(offer("9223372036854775807", "65536"))))).toBe(true)
    for (const size of ["01", "-1", "+1", "1.0", "1e3", "9223372036854775808", "", " 1"])
      expect(decodeFail(offer(size, "10")).reason).toBe("Schema")
    for (const chunk of ["0", "65537", "100000", "007", "1 "])
      expect(decodeFail(offer("1", chunk)).reason).toBe("Schema")
    for (const etag of ["", "two words", "x".repeat(65), "a/b"])
      expect(decodeFail(offer("1", "10", etag)).reason).toBe("Schema")
    for (const sha of ["AB".repeat(32), "ab".repeat(31), "ab".repeat(33), "zz".repeat(32)])
      expect(decodeFail(done(sha)).reason).toBe("Schema")
    // The offer of before issue 15 (whole-file SHA-256, no etag) and a FileDone without its digest are refused.
    expect(decodeFail(`<FileOffer ${NS} id="${ULID}" name="a" size="1" sha256="${hex}" chunk="1"/>`).reason).toBe(
      "Schema"
    )
    expect(decodeFail(`<FileDone ${NS} id="${ULID}"/>`).reason).toBe("Schema")
    expect(decodeFail(`<FileAccept ${NS} id="${ULID}" offset="00"/>`).reason).toBe("Schema")
  })

  it("tells the offer from the choice by the expected kind", () => {
    const offer = samples.find((s) => s.label === "hello-offer-min")!.message
    const choice = samples.find((s) => s.label === "hello-choice")!.message
    expect(Either.getOrThrow(decodeE2E(encodeE2E(offer), "offer"))._tag).toBe("e2e.HelloOffer")
    expect(decodeE2E(encodeE2E(offer), "choice")).toMatchObject({ left: { reason: "Schema" } })
    expect(decodeE2E(encodeE2E(choice), "offer")).toMatchObject({ left: { reason: "Schema" } })
    const twoVersions = new TextDecoder()
      .decode(encodeE2E(choice))
      .replace("<Version>1</Version>", "<Version>1</Version><Version>2</Version>")
    expect(decodeFail(twoVersions, "choice").message).toMatch(/more than 1 <Version>/)
    const outOfOrder = `<Hello ${NS} random="${b64(32)}"><Suite>s</Suite><Version>1</Version><KeyShare group="x25519">${b64(32)}</KeyShare></Hello>`
    expect(decodeFail(outOfOrder, "choice").message).toMatch(/out of order/)
  })

  it("a schema refusal is one sentence naming the element and field (issue 11), never a Schema dump", () => {
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      [`<Finished ${NS}>${b64(3)}</Finished>`, /^<Finished mac="3 bytes">: expected exactly 32 bytes, got 3\.$/],
      [
        `<Message ${NS} id="nope" sent="2024-05-01T12:34:56Z"><Body>x</Body></Message>`,
        /^<Message id="nope">: an id is a ULID/
      ],
      [
        `<Message ${NS} id="${ULID}" sent="noon"><Body>x</Body></Message>`,
        /^<Message sent="noon">: sent is an RFC 3339/
      ],
      [`<Alert ${NS} code="nope"/>`, /^<Alert code="nope">: code is one of the alert codes of PROTOCOL\.md §12\.3/],
      [`<Typing ${NS} state="typing"/>`, /^<Typing state="typing">: state is "active" or "paused"/],
      [`<Ping ${NS} nonce="a b"/>`, /^<Ping nonce="a b">: a token is 1 to 64/],
      [`<CertificateVerify ${NS} alg="">${b64(64)}</CertificateVerify>`, /^<CertificateVerify alg="">: a token/]
    ]
    for (const [xml, sentence] of cases) {
      const message = decodeFail(xml).message
      expect(message).toMatch(sentence)
      expect(message).not.toMatch(/\n/)
      expect(message.length).toBeLessThan(200)
    }
  })

  it("bounds text by the per-field limits of the schemas", () => {
    const msg = (body: string) =>
      `<Message ${NS} id="${ULID}" sent="2024-05-01T12:34:56Z"><Body>${body}</Body></Message>`
    // Limits are bytes of UTF-8 of the decoded text (§4.5), whatever escapes the sender used.
    expect(Either.isRight(decodeE2E(utf8(msg("x".repeat(64_000)))))).toBe(true)
    expect(decodeFail(msg("x".repeat(64_001))).message).toMatch(/at most 64000 bytes of UTF-8/)
    expect(decodeFail(msg("世".repeat(21_334))).message).toMatch(/at most 64000 bytes of UTF-8/)
    expect(Either.isRight(decodeE2E(utf8(msg("世".repeat(21_333)))))).toBe(true)
    // 12 900 '&': 64 500 bytes as &amp;, 12 900 decoded: accepted either way it is written.
    expect(Either.isRight(decodeE2E(utf8(msg("&amp;".repeat(12_900)))))).toBe(true)
    expect(Either.isRight(decodeE2E(utf8(msg("&#38;".repeat(12_900)))))).toBe(true)
    expect(Either.isRight(decodeE2E(utf8(`<Alert ${NS} code="timeout" description="${"é".repeat(128)}"/>`)))).toBe(true)
    expect(decodeFail(`<Alert ${NS} code="timeout" description="${"é".repeat(129)}"/>`).reason).toBe("Schema")
    expect(decodeFail(`<Alert ${NS} code="timeout" description="${"d".repeat(257)}"/>`).reason).toBe("Schema")
    const file = (name: string) => `<FileOffer ${NS} id="${ULID}" name="${name}" size="1" etag="e1" chunk="1"/>`
    expect(Either.isRight(decodeE2E(utf8(file("ü".repeat(127)))))).toBe(true)
    expect(decodeFail(file("ü".repeat(128))).reason).toBe("Schema")
    expect(decodeFail(`<Ping ${NS} nonce="${"n".repeat(65)}"/>`).reason).toBe("Schema")
  })

  it("refuses characters XML cannot carry in the schemas, and the writer throws on them", () => {
    const bad = { _tag: "e2e.Message", id: ULID, sent: "2024-05-01T12:34:56Z", body: "a\u0001b" } as const
    // biome-ignore lint/suspicious/noExplicitAny: deliberately bypassing the schema to reach the writer's guard
    expect(() => encodeE2E(bad as any)).toThrow(/XML 1.0 cannot carry/)
    // biome-ignore lint/suspicious/noExplicitAny: as above, a lone surrogate
    expect(() => encodeE2E({ ...bad, body: "a\ud800" } as any)).toThrow(/XML 1.0 cannot carry/)
    expect(Either.isLeft(Schema.decodeUnknownEither(Message)(bad))).toBe(true)
    // A tree built by hand (not by the parser) still meets the schema before anything acts on it.
    const body = { name: "Body", namespace: E2E_NAMESPACE, attributes: [], children: [], text: "a\u0001b" }
    const tree = { ...e2eToElement({ ...bad, body: "" } as never), children: [body] }
    expect(e2eFromElement(tree)).toMatchObject({
      left: { reason: "Schema", message: expect.stringMatching(/XML 1.0/) }
    })
  })
})
