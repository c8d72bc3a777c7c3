/** fast-check generators of valid IRP messages, for the round-trip, XSD and fuzz tests. */
import { Schema } from "effect"
import fc from "fast-check"
import { IrpRequest, IrpServerMessage, MAX_EPOCH_MS } from "../../../src/domain/irp/messages.js"
import type { IrpMessage } from "../../../src/domain/irp/xml.js"
import type { XmlElement } from "../../../src/domain/xml/model.js"

/** One character XML can carry, biased towards the ones that need escaping or normalising. */
const xmlChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 3, arbitrary: fc.constantFrom("<", ">", "&", '"', "'", "\t", "\n", "\r", " ") },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xd7ff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) }
)
const xmlText = (maxLength: number) => fc.string({ unit: xmlChar, maxLength })

const id = fc.oneof(
  fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/),
  fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
)
const handle = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9](?:[a-z0-9._+-]{0,10}[a-z0-9])?$/),
    fc.stringMatching(/^(?:[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?\.){0,2}[a-z0-9]{1,10}$/)
  )
  .map(([local, domain]) => `${local}@${domain}`)
/** A lower-case DNS name of two or three labels, the last one not all digits. */
const domain = fc.stringMatching(/^(?:[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?\.){1,2}[a-z][a-z0-9]{0,9}$/)
const der = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max })
const deviceId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
const address = fc.record({
  host: fc.stringMatching(/^[A-Za-z0-9._:%-]{1,45}$/),
  port: fc.integer({ min: 1, max: 65_535 })
})
const epochMs = fc.integer({ min: 0, max: MAX_EPOCH_MS })
const seq = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })
const serial = fc.stringMatching(/^(?:0|[1-9a-f][0-9a-f]{0,39})$/)
const reason = fc.constantFrom(
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "aACompromise"
)
const status = fc.constantFrom("good", "revoked", "unknown")
const binding = fc.record({
  deviceId,
  addresses: fc.array(address, { minLength: 1, maxLength: 8 }),
  expiresAt: epochMs,
  seq
})
const bindings = fc.array(binding, { maxLength: 4 })
const chain = (min: number) => fc.array(der(120), { minLength: min, maxLength: 5 })
const handles = (min: number) => fc.array(handle, { minLength: min, maxLength: 64 })
const code = fc.constantFrom(
  "unauthorized",
  "forbidden",
  "not_found",
  "bad_request",
  "stale_sequence",
  "rate_limited",
  "conflict",
  "internal",
  "lease_too_short",
  "lease_too_long",
  "too_many_devices",
  "token_invalid",
  "csr_invalid"
)
const opt = <A>(a: fc.Arbitrary<A>) => fc.option(a, { nil: undefined })
/** Drops `undefined` values so optional fields are absent, as exactOptionalPropertyTypes wants. */
const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
const tagged = (tag: string) => (r: object) => ({ _tag: tag, ...r })

const rawRequest = fc.oneof(
  fc.record({ id, handle, token: fc.stringMatching(/^[!-~]{1,128}$/), csr: der(300) }).map(tagged("irp.Enroll")),
  fc.record({ id, csr: der(300) }).map(tagged("irp.Renew")),
  fc
    .record({
      id,
      deviceId,
      addresses: fc.array(address, { minLength: 1, maxLength: 8 }),
      ttlSeconds: fc.integer({ min: 0, max: 999_999_999 }),
      seq
    })
    .map(tagged("irp.Register")),
  fc.record({ id, deviceId: fc.option(deviceId, { nil: null }) }).map(tagged("irp.Deregister")),
  fc.record({ id, handle }).map(tagged("irp.Lookup")),
  fc.record({ id, serial }).map(tagged("irp.Status")),
  fc.record({ id }).map(tagged("irp.Crl")),
  fc.record({ id, serial, reason }).map(tagged("irp.Revoke")),
  fc.record({ id, handles: handles(1) }).map(tagged("irp.Watch")),
  fc.record({ id, handles: handles(0) }).map(tagged("irp.Unwatch")),
  fc.record({ id }).map(tagged("irp.Ping")),
  fc.record({ id }).map(tagged("irp.DomainInfo"))
)

const rawServerMessage = fc.oneof(
  fc.record({ id, serial, notAfter: epochMs, chain: chain(1) }).map(tagged("irp.Issued")),
  fc.record({ id, bindings, observed: opt(address), natSuspected: fc.boolean() }).map(tagged("irp.Registered")),
  fc.record({ id, handle, status, chain: chain(0), bindings }).map(tagged("irp.LookupResult")),
  fc
    .oneof(
      fc.record({ id, serial, status: fc.constantFrom("good", "unknown") }),
      fc.record({ id, serial, status: fc.constant("revoked"), revokedAt: epochMs, reason })
    )
    .map(tagged("irp.StatusResult")),
  fc
    .tuple(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 0, max: 255 }))
    .chain(([parts, k]) =>
      fc.record({ id, part: fc.constant((k % parts) + 1), parts: fc.constant(parts), der: der(400) })
    )
    .map(tagged("irp.CrlResult")),
  fc
    .record({ id, domain, policy: fc.constantFrom("open", "allow", "closed"), root: der(120) })
    .map(tagged("irp.DomainInfoResult")),
  fc.record({ id }).map(tagged("irp.Ok")),
  fc.record({ handle, status, bindings }).map(tagged("irp.Changed")),
  fc
    .record({ id: opt(id), code, message: xmlText(250), retryAfterMs: opt(fc.integer({ min: 0, max: 99_999_999 })) })
    .map((r) => compact(tagged("irp.Error")(r)))
)

export const irpRequest: fc.Arbitrary<IrpRequest> = rawRequest.map(Schema.decodeUnknownSync(IrpRequest))
export const irpServerMessage: fc.Arbitrary<IrpServerMessage> = rawServerMessage.map(
  Schema.decodeUnknownSync(IrpServerMessage)
)
export const irpMessage: fc.Arbitrary<IrpMessage> = fc.oneof(irpRequest, irpServerMessage)

const names = fc.constantFrom("a", "Binding", "Address", "Cert", "Handle", "x-y", "é")
const leaf: fc.Arbitrary<XmlElement> = fc.record({
  name: names,
  namespace: fc.constant(""),
  attributes: fc
    .uniqueArray(fc.record({ name: fc.constantFrom("id", "host", "port", "seq", "z"), value: xmlText(20) }), {
      maxLength: 4,
      selector: (a) => a.name
    })
    .map((as) => as as ReadonlyArray<{ name: string; value: string }>),
  children: fc.constant([]),
  text: xmlText(20)
})
const node = (depth: number): fc.Arbitrary<XmlElement> =>
  depth >= 4
    ? leaf
    : fc.oneof(
        leaf,
        fc
          .tuple(leaf, fc.array(node(depth + 1), { minLength: 1, maxLength: 3 }))
          .map(([el, children]) => ({ ...el, text: "", children }))
      )
/** Random trees up to depth 4 (namespace left empty: the tests move them where they want). */
export const xmlTree: fc.Arbitrary<XmlElement> = node(1)
