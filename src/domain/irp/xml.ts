/**
 * XML mapping of every IRP wire message (brief sections 3 and 8); the normative shapes are in
 * `schema/irp.xsd`, which this module and its tests keep in step. Pure.
 *
 * Decoding is strict like the E2E mapping: root in `urn:sixchat:irp:1`, no unknown element, attribute or
 * child, canonical base64, plain decimals, RFC 3339 UTC times that name a real instant, and every value
 * through its Schema before it is returned. The two codecs differ on failure: the client's fails (the
 * channel then ends the connection: a server that sends garbage cannot be trusted), the server's turns
 * a well-formed but invalid request into `InvalidRequest`, answered `bad_request` on a connection that
 * stays usable (brief section 8).
 */
import { Either } from "effect"
import { Id } from "../brands.js"
import type { MessageCodec } from "../channel/codec.js"
import { MAX_CONTENT } from "../channel/record.js"
import { DecodeError } from "../xml/DecodeError.js"
import { elementsIn, presentAttributes, type XmlElement } from "../xml/model.js"
import { parseXml } from "../xml/parse.js"
import {
  decodeWith,
  expectEmpty,
  readAttributes,
  readBase64,
  readBigInt,
  readChildren,
  readInt,
  readText,
  schemaError
} from "../xml/read.js"
import { base64Encode, formatUtcTimestamp, parseUtcTimestamp } from "../xml/values.js"
import { documentBytes, escapeAttribute, writeXml } from "../xml/write.js"
import {
  type BindingInfo,
  Changed,
  Crl,
  CrlResult,
  Deregister,
  Enroll,
  type InvalidRequest,
  IRP_NAMESPACE,
  IrpError,
  type IrpRequest,
  type IrpServerInbound,
  type IrpServerMessage,
  Issued,
  Lookup,
  LookupResult,
  MAX_BINDINGS,
  MAX_CHAIN,
  MAX_WATCH_HANDLES,
  Ok,
  Ping,
  Register,
  Registered,
  Renew,
  Revoke,
  Status,
  StatusResult,
  Unwatch,
  Watch,
  type WireAddress
} from "./messages.js"
import { MAX_ADDRESSES_PER_DEVICE } from "./registry.js"
import { fastRequest, fastServerMessage } from "./xmlFast.js"

export type IrpMessage = IrpRequest | IrpServerMessage

// --- Times -------------------------------------------------------------------------------

/** RFC 3339 UTC with milliseconds (`2026-11-26T12:00:00.000Z`). */
export const formatTimestamp = formatUtcTimestamp

/** Epoch ms of an RFC 3339 UTC timestamp (fraction truncated to ms); `undefined` unless it names a real instant. */
export const parseTimestamp = parseUtcTimestamp

// --- Encoding ----------------------------------------------------------------------------

const el = elementsIn(IRP_NAMESPACE)

const attrs = presentAttributes

const addressEl = (name: string, a: WireAddress) => el(name, attrs(["host", a.host], ["port", String(a.port)]))
/**
 * Base64 of certificates already written, by array: a server answers Lookups for the same handles over
 * and over from cached answers that hold the same certificate arrays, and would otherwise encode the same
 * ~1 KB each time. Keyed weakly, so it holds nothing the answers themselves do not. Certificate arrays
 * are never written to once made (nothing in SixChat modifies DER in place); a caller that did would
 * have to hand over a new array.
 */
const certificateText = new WeakMap<Uint8Array, string>()
const certText = (der: Uint8Array): string => {
  let text = certificateText.get(der)
  if (text === undefined) {
    text = base64Encode(der)
    certificateText.set(der, text)
  }
  return text
}
const certEl = (der: Uint8Array) => el("Cert", [], [], certText(der))
const handleEl = (handle: string) => el("Handle", [], [], handle)
const bindingEl = (b: BindingInfo) =>
  el(
    "Binding",
    attrs(["device", b.deviceId], ["expires", formatTimestamp(b.expiresAt)], ["seq", b.seq.toString()]),
    b.addresses.map((a) => addressEl("Address", a))
  )

export const irpToElement = (msg: IrpMessage): XmlElement => {
  switch (msg._tag) {
    case "irp.Enroll":
      return el("Enroll", attrs(["id", msg.id], ["handle", msg.handle], ["token", msg.token]), [
        el("Csr", [], [], base64Encode(msg.csr))
      ])
    case "irp.Renew":
      return el("Renew", attrs(["id", msg.id]), [el("Csr", [], [], base64Encode(msg.csr))])
    case "irp.Register":
      return el(
        "Register",
        attrs(["id", msg.id], ["device", msg.deviceId], ["ttl", String(msg.ttlSeconds)], ["seq", msg.seq.toString()]),
        msg.addresses.map((a) => addressEl("Address", a))
      )
    case "irp.Deregister":
      return el("Deregister", attrs(["id", msg.id]), [
        msg.deviceId === null ? el("All") : el("Device", [], [], msg.deviceId)
      ])
    case "irp.Lookup":
      return el("Lookup", attrs(["id", msg.id], ["handle", msg.handle]))
    case "irp.Status":
      return el("Status", attrs(["id", msg.id], ["serial", msg.serial]))
    case "irp.Crl":
      return el("Crl", attrs(["id", msg.id]))
    case "irp.Revoke":
      return el("Revoke", attrs(["id", msg.id], ["serial", msg.serial], ["reason", msg.reason]))
    case "irp.Watch":
      return el("Watch", attrs(["id", msg.id]), msg.handles.map(handleEl))
    case "irp.Unwatch":
      return el("Unwatch", attrs(["id", msg.id]), msg.handles.map(handleEl))
    case "irp.Ping":
      return el("Ping", attrs(["id", msg.id]))
    case "irp.Issued":
      return el(
        "Issued",
        attrs(["id", msg.id], ["serial", msg.serial], ["notAfter", formatTimestamp(msg.notAfter)]),
        msg.chain.map(certEl)
      )
    case "irp.Registered":
      return el("Registered", attrs(["id", msg.id], ["natSuspected", String(msg.natSuspected)]), [
        ...(msg.observed === undefined ? [] : [addressEl("Observed", msg.observed)]),
        ...msg.bindings.map(bindingEl)
      ])
    case "irp.LookupResult":
      return el("LookupResult", attrs(["id", msg.id], ["handle", msg.handle], ["status", msg.status]), [
        ...msg.chain.map(certEl),
        ...msg.bindings.map(bindingEl)
      ])
    case "irp.StatusResult":
      return el(
        "StatusResult",
        attrs(
          ["id", msg.id],
          ["serial", msg.serial],
          ["status", msg.status],
          ["revokedAt", msg.revokedAt === undefined ? undefined : formatTimestamp(msg.revokedAt)],
          ["reason", msg.reason]
        )
      )
    case "irp.CrlResult":
      return el(
        "CrlResult",
        attrs(["id", msg.id], ["part", String(msg.part)], ["parts", String(msg.parts)]),
        [],
        base64Encode(msg.der)
      )
    case "irp.Ok":
      return el("Ok", attrs(["id", msg.id]))
    case "irp.Changed":
      return el("Changed", attrs(["handle", msg.handle], ["status", msg.status]), msg.bindings.map(bindingEl))
    case "irp.Error":
      return el(
        "Error",
        attrs(
          ["id", msg.id],
          ["code", msg.code],
          ["message", msg.message],
          ["retryAfterMs", msg.retryAfterMs === undefined ? undefined : String(msg.retryAfterMs)]
        )
      )
  }
}

const XMLNS = ` xmlns="${IRP_NAMESPACE}"`

/** `bindingEl` written directly (base64 and timestamps need no escaping). */
const bindingText = (b: BindingInfo): string => {
  const head = `<Binding device="${escapeAttribute(b.deviceId)}" expires="${formatTimestamp(b.expiresAt)}" seq="${b.seq.toString()}"`
  if (b.addresses.length === 0) return `${head}/>`
  let out = `${head}>`
  for (const a of b.addresses) out += `<Address host="${escapeAttribute(a.host)}" port="${a.port}"/>`
  return `${out}</Binding>`
}

/**
 * The messages of every Lookup and Ping, `<Ping>`, `<Ok>`, `<Lookup>` and `<LookupResult>`, written
 * straight from their fields: byte for byte what `writeXml(irpToElement(msg))` writes (a property test
 * holds the two together), without building and checking an element tree per request.
 */
const directText = (msg: IrpMessage): string | undefined => {
  switch (msg._tag) {
    case "irp.Ping":
      return `<Ping${XMLNS} id="${escapeAttribute(msg.id)}"/>`
    case "irp.Ok":
      return `<Ok${XMLNS} id="${escapeAttribute(msg.id)}"/>`
    case "irp.Lookup":
      return `<Lookup${XMLNS} id="${escapeAttribute(msg.id)}" handle="${escapeAttribute(msg.handle)}"/>`
    case "irp.LookupResult": {
      const head = `<LookupResult${XMLNS} id="${escapeAttribute(msg.id)}" handle="${escapeAttribute(msg.handle)}" status="${escapeAttribute(msg.status)}"`
      if (msg.chain.length === 0 && msg.bindings.length === 0) return `${head}/>`
      let out = `${head}>`
      for (const der of msg.chain) out += der.length === 0 ? "<Cert/>" : `<Cert>${certText(der)}</Cert>`
      for (const b of msg.bindings) out += bindingText(b)
      return `${out}</LookupResult>`
    }
    default:
      return undefined
  }
}

export const encodeIrp = (msg: IrpMessage): Uint8Array => {
  const text = directText(msg)
  return text === undefined ? writeXml(irpToElement(msg)) : documentBytes(text)
}

// --- Decoding ----------------------------------------------------------------------------

type Decoded<A> = Either.Either<A, DecodeError>

const attributesOnly = <const R extends string, const O extends string = never>(
  e: XmlElement,
  required: ReadonlyArray<R>,
  optional: ReadonlyArray<O> = []
) => Either.flatMap(expectEmpty(e), () => readAttributes(e, required, optional))

/** A leaf carrying only text. */
const leafText = (e: XmlElement) => Either.flatMap(readAttributes(e, []), () => readText(e))
const leafBase64 = (e: XmlElement) => Either.flatMap(leafText(e), (t) => readBase64(t, `<${e.name}>`))

const readTime = (text: string, field: string): Decoded<number> => {
  const t = parseTimestamp(text)
  return t === undefined ? Either.left(schemaError(`${field} is not an RFC 3339 UTC time.`)) : Either.right(t)
}

const readBool = (text: string, field: string): Decoded<boolean> =>
  text === "true" || text === "false"
    ? Either.right(text === "true")
    : Either.left(schemaError(`${field} is "true" or "false".`))

const addressFrom = (e: XmlElement) =>
  Either.gen(function* () {
    const a = yield* attributesOnly(e, ["host", "port"])
    return { host: a.host, port: yield* readInt(a.port, `<${e.name}> port`, 5) }
  })

const bindingFrom = (e: XmlElement) =>
  Either.gen(function* () {
    const a = yield* readAttributes(e, ["device", "expires", "seq"])
    const c = yield* readChildren(e, [{ name: "Address", min: 1, max: MAX_ADDRESSES_PER_DEVICE }])
    return {
      deviceId: a.device,
      addresses: yield* Either.all(c.Address.map(addressFrom)),
      expiresAt: yield* readTime(a.expires, "<Binding> expires"),
      seq: yield* readBigInt(a.seq, "<Binding> seq")
    }
  })

const decoders = {
  Enroll: decodeWith(Enroll, "<Enroll>"),
  Renew: decodeWith(Renew, "<Renew>"),
  Register: decodeWith(Register, "<Register>"),
  Deregister: decodeWith(Deregister, "<Deregister>"),
  Lookup: decodeWith(Lookup, "<Lookup>"),
  Status: decodeWith(Status, "<Status>"),
  Crl: decodeWith(Crl, "<Crl>"),
  Revoke: decodeWith(Revoke, "<Revoke>"),
  Watch: decodeWith(Watch, "<Watch>"),
  Unwatch: decodeWith(Unwatch, "<Unwatch>"),
  Ping: decodeWith(Ping, "<Ping>"),
  Issued: decodeWith(Issued, "<Issued>"),
  Registered: decodeWith(Registered, "<Registered>"),
  LookupResult: decodeWith(LookupResult, "<LookupResult>"),
  StatusResult: decodeWith(StatusResult, "<StatusResult>"),
  CrlResult: decodeWith(CrlResult, "<CrlResult>"),
  Ok: decodeWith(Ok, "<Ok>"),
  Changed: decodeWith(Changed, "<Changed>"),
  Error: decodeWith(IrpError, "<Error>")
}

const csrOf = (e: XmlElement) =>
  Either.flatMap(readChildren(e, [{ name: "Csr", min: 1, max: 1 }]), (c) => leafBase64(c.Csr[0]!))

const handlesOf = (e: XmlElement, min: number) =>
  Either.flatMap(readChildren(e, [{ name: "Handle", min, max: MAX_WATCH_HANDLES }]), (c) =>
    Either.all(c.Handle.map(leafText))
  )

const requestReaders: Readonly<Record<string, (e: XmlElement) => Decoded<IrpRequest>>> = {
  Enroll: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id", "handle", "token"])
      return yield* decoders.Enroll({ _tag: "irp.Enroll", ...a, csr: yield* csrOf(e) })
    }),
  Renew: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id"])
      return yield* decoders.Renew({ _tag: "irp.Renew", ...a, csr: yield* csrOf(e) })
    }),
  Register: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id", "device", "ttl", "seq"])
      const c = yield* readChildren(e, [{ name: "Address", min: 1, max: MAX_ADDRESSES_PER_DEVICE }])
      return yield* decoders.Register({
        _tag: "irp.Register",
        id: a.id,
        deviceId: a.device,
        addresses: yield* Either.all(c.Address.map(addressFrom)),
        ttlSeconds: yield* readInt(a.ttl, "<Register> ttl", 9),
        seq: yield* readBigInt(a.seq, "<Register> seq")
      })
    }),
  Deregister: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id"])
      const c = yield* readChildren(e, [
        { name: "Device", min: 0, max: 1 },
        { name: "All", min: 0, max: 1 }
      ])
      if (c.Device.length + c.All.length !== 1)
        return yield* Either.left(schemaError("<Deregister> holds exactly one of <Device> or <All/>."))
      const all = c.All[0]
      if (all !== undefined) yield* attributesOnly(all, [])
      const deviceId = all === undefined ? yield* leafText(c.Device[0]!) : null
      return yield* decoders.Deregister({ _tag: "irp.Deregister", id: a.id, deviceId })
    }),
  Lookup: (e) =>
    Either.flatMap(attributesOnly(e, ["id", "handle"]), (a) => decoders.Lookup({ _tag: "irp.Lookup", ...a })),
  Status: (e) =>
    Either.flatMap(attributesOnly(e, ["id", "serial"]), (a) => decoders.Status({ _tag: "irp.Status", ...a })),
  Crl: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => decoders.Crl({ _tag: "irp.Crl", ...a })),
  Revoke: (e) =>
    Either.flatMap(attributesOnly(e, ["id", "serial", "reason"]), (a) => decoders.Revoke({ _tag: "irp.Revoke", ...a })),
  Watch: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id"])
      return yield* decoders.Watch({ _tag: "irp.Watch", ...a, handles: yield* handlesOf(e, 1) })
    }),
  Unwatch: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id"])
      return yield* decoders.Unwatch({ _tag: "irp.Unwatch", ...a, handles: yield* handlesOf(e, 0) })
    }),
  Ping: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => decoders.Ping({ _tag: "irp.Ping", ...a }))
}

const serverReaders: Readonly<Record<string, (e: XmlElement) => Decoded<IrpServerMessage>>> = {
  Issued: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id", "serial", "notAfter"])
      const c = yield* readChildren(e, [{ name: "Cert", min: 1, max: MAX_CHAIN }])
      return yield* decoders.Issued({
        _tag: "irp.Issued",
        id: a.id,
        serial: a.serial,
        notAfter: yield* readTime(a.notAfter, "<Issued> notAfter"),
        chain: yield* Either.all(c.Cert.map(leafBase64))
      })
    }),
  Registered: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id", "natSuspected"])
      const c = yield* readChildren(e, [
        { name: "Observed", min: 0, max: 1 },
        { name: "Binding", min: 0, max: MAX_BINDINGS }
      ])
      const observed = c.Observed[0]
      return yield* decoders.Registered({
        _tag: "irp.Registered",
        id: a.id,
        natSuspected: yield* readBool(a.natSuspected, "<Registered> natSuspected"),
        observed: observed === undefined ? undefined : yield* addressFrom(observed),
        bindings: yield* Either.all(c.Binding.map(bindingFrom))
      })
    }),
  LookupResult: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id", "handle", "status"])
      const c = yield* readChildren(e, [
        { name: "Cert", min: 0, max: MAX_CHAIN },
        { name: "Binding", min: 0, max: MAX_BINDINGS }
      ])
      return yield* decoders.LookupResult({
        _tag: "irp.LookupResult",
        ...a,
        chain: yield* Either.all(c.Cert.map(leafBase64)),
        bindings: yield* Either.all(c.Binding.map(bindingFrom))
      })
    }),
  StatusResult: (e) =>
    Either.gen(function* () {
      const a = yield* attributesOnly(e, ["id", "serial", "status"], ["revokedAt", "reason"])
      const revokedAt = a.revokedAt === undefined ? undefined : yield* readTime(a.revokedAt, "<StatusResult> revokedAt")
      return yield* decoders.StatusResult({
        _tag: "irp.StatusResult",
        id: a.id,
        serial: a.serial,
        status: a.status,
        ...(revokedAt === undefined ? {} : { revokedAt }),
        ...(a.reason === undefined ? {} : { reason: a.reason })
      })
    }),
  CrlResult: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["id", "part", "parts"])
      return yield* decoders.CrlResult({
        _tag: "irp.CrlResult",
        id: a.id,
        part: yield* readInt(a.part, "<CrlResult> part", 3),
        parts: yield* readInt(a.parts, "<CrlResult> parts", 3),
        der: yield* readBase64(yield* readText(e), "<CrlResult>")
      })
    }),
  Ok: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => decoders.Ok({ _tag: "irp.Ok", ...a })),
  Changed: (e) =>
    Either.gen(function* () {
      const a = yield* readAttributes(e, ["handle", "status"])
      const c = yield* readChildren(e, [{ name: "Binding", min: 0, max: MAX_BINDINGS }])
      return yield* decoders.Changed({
        _tag: "irp.Changed",
        ...a,
        bindings: yield* Either.all(c.Binding.map(bindingFrom))
      })
    }),
  Error: (e) =>
    Either.gen(function* () {
      const a = yield* attributesOnly(e, ["code", "message"], ["id", "retryAfterMs"])
      const retryAfterMs =
        a.retryAfterMs === undefined ? undefined : yield* readInt(a.retryAfterMs, "<Error> retryAfterMs", 8)
      return yield* decoders.Error({
        _tag: "irp.Error",
        code: a.code,
        message: a.message,
        ...(a.id === undefined ? {} : { id: a.id }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs })
      })
    })
}

const fromElement =
  <A>(readers: Readonly<Record<string, (e: XmlElement) => Decoded<A>>>, what: string) =>
  (root: XmlElement): Decoded<A> => {
    if (root.namespace !== IRP_NAMESPACE)
      return Either.left(
        new DecodeError({
          reason: "Namespace",
          message: `<${root.name}> is in namespace "${root.namespace}"; IRP messages are in "${IRP_NAMESPACE}".`
        })
      )
    const reader = Object.hasOwn(readers, root.name) ? readers[root.name] : undefined
    return reader === undefined
      ? Either.left(new DecodeError({ reason: "UnknownElement", message: `<${root.name}> is not an IRP ${what}.` }))
      : reader(root)
  }

/** A request, through the Schema path only: the reference of `requestFromElement` (see `./xmlFast.ts`). */
export const requestFromElementBySchema = fromElement(requestReaders, "request")

/** A request (what the server reads): the hot ones through `fastRequest`, the rest through the Schema path. */
export const requestFromElement = (root: XmlElement): Decoded<IrpRequest> => {
  const fast = root.namespace === IRP_NAMESPACE ? fastRequest(root) : undefined
  return fast === undefined ? requestFromElementBySchema(root) : Either.right(fast)
}

/**
 * An answer or a push (what the client reads), through the Schema path only. `serverMessageFromElement`
 * gives the same results faster; this one is its reference (see `./xmlFast.ts`).
 */
export const serverMessageFromElementBySchema = fromElement(serverReaders, "answer")

/**
 * An answer or a push (what the client reads): the hot ones through `fastServerMessage`, the rest through
 * the Schema path.
 */
export const serverMessageFromElement = (root: XmlElement): Decoded<IrpServerMessage> => {
  const fast = root.namespace === IRP_NAMESPACE ? fastServerMessage(root) : undefined
  return fast === undefined ? serverMessageFromElementBySchema(root) : Either.right(fast)
}

const allReaders = { ...requestReaders, ...serverReaders }
const irpFromElementBySchema = fromElement<IrpMessage>(allReaders, "message")
/** Any IRP message. */
export const irpFromElement = (root: XmlElement): Decoded<IrpMessage> => {
  const fast = root.namespace === IRP_NAMESPACE ? (fastServerMessage(root) ?? fastRequest(root)) : undefined
  return fast === undefined ? irpFromElementBySchema(root) : Either.right(fast)
}

/** Parses and decodes one IRP document; any failure is a `DecodeError`, never a throw. */
export const decodeIrp = (bytes: Uint8Array): Decoded<IrpMessage> =>
  Either.match(parseXml(bytes), {
    onLeft: (cause) => Either.left(new DecodeError({ reason: "Xml", message: cause.message, cause })),
    onRight: irpFromElement
  })

// --- Codecs --------------------------------------------------------------------------------

const decodeId = decodeWith(Id, "id")

/** The server's view of an undecodable request: its id when that much is readable, and why. */
export const invalidRequest = (root: XmlElement, error: DecodeError): InvalidRequest => {
  const raw = root.namespace === IRP_NAMESPACE ? root.attributes.find((a) => a.name === "id")?.value : undefined
  const id = raw === undefined ? undefined : Either.getOrUndefined(decodeId(raw))
  return { _tag: "irp.InvalidRequest", id, element: root.name, message: error.message }
}

/**
 * Encodes a server message, guaranteeing it fits one record (brief section 2): an answer that would
 * not (a pathological number of bindings or certificates) becomes an `internal` error for its id.
 */
const encodeServerMessage = (msg: IrpServerMessage): Uint8Array => {
  const bytes = encodeIrp(msg)
  if (bytes.length <= MAX_CONTENT) return bytes
  return encodeIrp({
    _tag: "irp.Error",
    ...("id" in msg && msg.id !== undefined ? { id: msg.id } : {}),
    code: "internal",
    message: "The answer is too large for one record; the server's limits are misconfigured."
  })
}

/** The client side of port 4604: sends requests, reads answers and pushes. */
export const irpClientCodec: MessageCodec<IrpServerMessage, IrpRequest> = {
  encode: encodeIrp,
  decode: serverMessageFromElement
}

/** The server side of port 4604: reads requests (invalid ones included, to answer them), sends answers. */
export const irpServerCodec: MessageCodec<IrpServerInbound, IrpServerMessage> = {
  encode: encodeServerMessage,
  decode: (root) =>
    Either.orElse(requestFromElement(root), (error) => Either.right<IrpServerInbound>(invalidRequest(root, error)))
}
