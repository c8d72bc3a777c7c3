/** fast-check generators of valid E2E messages and XML trees, for the property tests. */
import { Schema } from "effect"
import fc from "fast-check"
import { E2EMessage } from "../../src/domain/e2e/messages.js"
import type { HelloKind } from "../../src/domain/e2e/xml.js"
import type { XmlElement } from "../../src/domain/xml/model.js"

/** One character XML can carry, biased towards the ones that need escaping or normalising. */
const xmlChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 3, arbitrary: fc.constantFrom("<", ">", "&", '"', "'", "\t", "\n", "\r", " ", "]", ";", "#", "=") },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xd7ff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xfffd }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) }
)
export const xmlText = (maxLength: number, minLength = 0) => fc.string({ unit: xmlChar, minLength, maxLength })

const token = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/)
const id = fc.oneof(
  fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/),
  fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
)
const timestamp = fc.stringMatching(/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z$/)
const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength })
const size = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })
const keyShare = fc.record({ group: token, key: bytes(0, 80) })
const opt = <A>(a: fc.Arbitrary<A>) => fc.option(a, { nil: undefined })
/** Drops `undefined` values so optional fields are absent, as exactOptionalPropertyTypes wants. */
const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

const raw: fc.Arbitrary<readonly [Record<string, unknown>, HelloKind]> = fc.oneof(
  fc
    .record({
      random: bytes(32, 32),
      versions: fc.array(token, { minLength: 1, maxLength: 8 }),
      keyShares: fc.array(keyShare, { minLength: 1, maxLength: 4 }),
      suites: fc.array(token, { minLength: 1, maxLength: 16 }),
      sigAlgs: fc.array(token, { minLength: 1, maxLength: 16 }),
      trust: opt(fc.constant("public"))
    })
    .map((r) => [compact({ _tag: "e2e.HelloOffer", ...r }), "offer"] as const),
  fc
    .record({ random: bytes(32, 32), version: token, keyShare, suite: token })
    .map((r) => [{ _tag: "e2e.HelloChoice", ...r }, "choice"] as const),
  fc
    .record({ chain: fc.array(bytes(0, 100), { maxLength: 5 }), status: opt(bytes(0, 100)) })
    .map((r) => [compact({ _tag: "e2e.Certificate", ...r }), "offer"] as const),
  fc
    .record({ algorithm: token, signature: bytes(0, 100) })
    .map((r) => [{ _tag: "e2e.CertificateVerify", ...r }, "offer"] as const),
  bytes(32, 32).map((mac) => [{ _tag: "e2e.Finished", mac }, "offer"] as const),
  fc
    .record({
      code: fc.constantFrom("decode_error", "close_notify", "bad_record_mac", "timeout"),
      description: opt(xmlText(256))
    })
    .map((r) => [compact({ _tag: "e2e.Alert", ...r }), "offer"] as const),
  fc.constant([{ _tag: "e2e.KeyUpdate" }, "offer"] as const),
  opt(token).map((reason) => [compact({ _tag: "e2e.Close", reason }), "offer"] as const),
  fc.record({ id, sent: timestamp, body: xmlText(300) }).map((r) => [{ _tag: "e2e.Message", ...r }, "offer"] as const),
  fc
    .constantFrom("e2e.Ack", "e2e.Read", "e2e.FileAck")
    .chain((tag) => id.map((i) => [{ _tag: tag, id: i }, "offer"] as const)),
  fc.constantFrom("active", "paused").map((state) => [{ _tag: "e2e.Typing", state }, "offer"] as const),
  fc
    .tuple(fc.constantFrom("e2e.Ping", "e2e.Pong"), opt(token))
    .map(([tag, nonce]) => [compact({ _tag: tag, nonce }), "offer"] as const),
  fc
    .record({ id, name: xmlText(255, 1), size, etag: token, chunk: fc.integer({ min: 1, max: 65_536 }) })
    .map((r) => [{ _tag: "e2e.FileOffer", ...r }, "offer"] as const),
  fc.record({ id, sha256: bytes(32, 32) }).map((r) => [{ _tag: "e2e.FileDone", ...r }, "offer"] as const),
  fc.record({ id, offset: size }).map((r) => [{ _tag: "e2e.FileAccept", ...r }, "offer"] as const),
  fc.record({ id, reason: opt(token) }).map((r) => [compact({ _tag: "e2e.FileCancel", ...r }), "offer"] as const)
)

const typed = Schema.decodeUnknownSync(E2EMessage)

/** A valid typed E2E message together with the `<Hello>` kind to decode it with. */
export const e2eMessage: fc.Arbitrary<{ readonly message: E2EMessage; readonly hello: HelloKind }> = raw.map(
  ([value, hello]) => ({ message: typed(value), hello })
)

const names = fc.constantFrom("a", "b", "Body", "x-y", "z.1", "_q", "é", "名前")
const leaf = (namespace: string): fc.Arbitrary<XmlElement> =>
  fc.record({
    name: names,
    namespace: fc.constant(namespace),
    attributes: fc
      .uniqueArray(fc.record({ name: names, value: xmlText(20) }), { maxLength: 4, selector: (a) => a.name })
      .map((as) => as as ReadonlyArray<{ name: string; value: string }>),
    children: fc.constant([]),
    text: xmlText(20)
  })

/** Random trees up to depth 4 in one namespace, with text only in leaves (no mixed content). */
export const xmlTree: fc.Arbitrary<XmlElement> = fc
  .constantFrom("", "urn:sixchat:e2e:1", "urn:x?a=1&b=<2>")
  .chain((namespace) => {
    const node = (depth: number): fc.Arbitrary<XmlElement> =>
      depth >= 4
        ? leaf(namespace)
        : fc.oneof(
            leaf(namespace),
            fc
              .tuple(leaf(namespace), fc.array(node(depth + 1), { minLength: 1, maxLength: 3 }))
              .map(([el, children]) => ({ ...el, text: "", children }))
          )
    return node(1)
  })
