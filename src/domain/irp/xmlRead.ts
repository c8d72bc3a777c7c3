/**
 * The reading half of the IRP XML mapping (see `./xml.ts`): strict decoding of every IRP wire message,
 * the hot ones through `./xmlFast.ts` and all of them through their Schemas, and the server's view of an
 * undecodable request. Pure.
 */
import { Either } from "effect"
import { Id } from "../brands.js"
import { DecodeError } from "../xml/DecodeError.js"
import type { XmlElement } from "../xml/model.js"
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
import { parseUtcTimestamp } from "../xml/values.js"
import {
  Changed,
  Crl,
  CrlResult,
  Deregister,
  Enroll,
  type InvalidRequest,
  IRP_NAMESPACE,
  IrpError,
  type IrpRequest,
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
  Watch
} from "./messages.js"
import { MAX_ADDRESSES_PER_DEVICE } from "./registry.js"
import { fastRequest, fastServerMessage } from "./xmlFast.js"
import type { IrpMessage } from "./xmlWrite.js"

// --- Times -------------------------------------------------------------------------------

/** Epoch ms of an RFC 3339 UTC timestamp (fraction truncated to ms); `undefined` unless it names a real instant. */
export const parseTimestamp = parseUtcTimestamp

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
    Either.gen(function* () {
      const a = yield* attributesOnly(e, ["id", "serial"], ["staple"])
      if (a.staple !== undefined && a.staple !== "true")
        return yield* Either.left(
          new DecodeError({ reason: "Schema", message: '<Status> staple is "true" or absent.' })
        )
      return yield* decoders.Status({
        _tag: "irp.Status",
        id: a.id,
        serial: a.serial,
        ...(a.staple === undefined ? {} : { staple: true })
      })
    }),
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
      const a = yield* readAttributes(e, ["id", "serial", "status"], ["revokedAt", "reason"])
      const c = yield* readChildren(e, [{ name: "Staple", min: 0, max: 1 }])
      const staple = c.Staple[0] === undefined ? undefined : yield* leafBase64(c.Staple[0])
      const revokedAt = a.revokedAt === undefined ? undefined : yield* readTime(a.revokedAt, "<StatusResult> revokedAt")
      return yield* decoders.StatusResult({
        _tag: "irp.StatusResult",
        id: a.id,
        serial: a.serial,
        status: a.status,
        ...(revokedAt === undefined ? {} : { revokedAt }),
        ...(a.reason === undefined ? {} : { reason: a.reason }),
        ...(staple === undefined ? {} : { staple })
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
          message:
            root.namespace === ""
              ? `<${root.name}> has no namespace; IRP messages are in "${IRP_NAMESPACE}".`
              : `<${root.name}> is in namespace "${root.namespace}"; IRP messages are in "${IRP_NAMESPACE}".`
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

/**
 * The server's view of an undecodable request: its id when that much is readable, and why. The id is
 * echoed whatever else is wrong, an unknown namespace or element included (PROTOCOL.md §17.2.4): a
 * client whose request is refused can then match the refusal instead of timing the request out.
 */
export const invalidRequest = (root: XmlElement, error: DecodeError): InvalidRequest => {
  const raw = root.attributes.find((a) => a.name === "id")?.value
  const id = raw === undefined ? undefined : Either.getOrUndefined(decodeId(raw))
  return { _tag: "irp.InvalidRequest", id, element: root.name, message: error.message }
}
