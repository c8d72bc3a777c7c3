/**
 * What the IRP message decoders (`./requests.ts`, `./answers.ts`) share: the shape of a decoder (its
 * hand-written fast reader and its Schema fallback) and the pieces both paths read many messages with
 * (addresses, bindings, certificates, times). Pure.
 *
 * Why two paths: the Schema path takes the element apart through `Either` helpers, builds an input object
 * and runs it through the message's Schema; on a 1.6 KB `<LookupResult>` that costs ~20 µs, most of it in
 * `ParseResult` frames. The fast reader of a hot message checks the same rules in one pass and builds the
 * value directly (~3 µs).
 *
 * The contract, which `test/irp/protocol/xmlFast.test.ts` checks on generated and edited documents: a
 * fast reader returns either `undefined` ("not decided here") or exactly the value the Schema path
 * returns, same fields in the same order. It decides only documents that are valid; for anything else it
 * steps aside and the Schema path produces its value or its precise error, so the errors are the same by
 * construction. Leaf values are still checked by their own schemas (`isOf(Id)`, `isOf(Handle)`, ...: the
 * schemas' own filters, see `../../xml/is.ts`), so a change to a brand cannot make the fast path accept
 * what the Schema path refuses.
 */
import { Either } from "effect"
import { Handle, Id } from "../../brands.js"
import { isBlank } from "../../xml/chars.js"
import type { DecodeError } from "../../xml/DecodeError.js"
import { isOf } from "../../xml/is.js"
import type { XmlElement } from "../../xml/model.js"
import {
  expectEmpty,
  readAttributes,
  readBase64,
  readBigInt,
  readChildren,
  readInt,
  readText,
  schemaError
} from "../../xml/read.js"
import { base64Decode, decimalBigInt, decimalInt, parseUtcTimestamp } from "../../xml/values.js"
import { SerialHex } from "../certificates.js"
import { type BindingInfo, Der, EpochMs, MAX_BINDINGS, type WireAddress, WireHost, WirePort } from "../messages.js"
import { DeviceId, MAX_ADDRESSES_PER_DEVICE, Seq } from "../registry.js"

export type Decoded<A> = Either.Either<A, DecodeError>

/** The decoder of one message kind: its Schema path, and for the hot kinds a fast reader in front of it. */
export interface MessageDecoder<A> {
  /** The value of a valid element, or `undefined` ("not decided here": the Schema path decides). */
  readonly fast?: (e: XmlElement) => A | undefined
  /** The reference: the value through the message's Schema, or the precise error. */
  readonly schema: (e: XmlElement) => Decoded<A>
}

// --- Schema path -----------------------------------------------------------------------------

export const attributesOnly = <const R extends string, const O extends string = never>(
  e: XmlElement,
  required: ReadonlyArray<R>,
  optional: ReadonlyArray<O> = []
) => Either.flatMap(expectEmpty(e), () => readAttributes(e, required, optional))

/** A leaf carrying only text. */
export const leafText = (e: XmlElement) => Either.flatMap(readAttributes(e, []), () => readText(e))
export const leafBase64 = (e: XmlElement) => Either.flatMap(leafText(e), (t) => readBase64(t, `<${e.name}>`))

export const readTime = (text: string, field: string): Decoded<number> => {
  const t = parseUtcTimestamp(text)
  return t === undefined ? Either.left(schemaError(`${field} is not an RFC 3339 UTC time.`)) : Either.right(t)
}

export const readBool = (text: string, field: string): Decoded<boolean> =>
  text === "true" || text === "false"
    ? Either.right(text === "true")
    : Either.left(schemaError(`${field} is "true" or "false".`))

export const addressFrom = (e: XmlElement) =>
  Either.gen(function* () {
    const a = yield* attributesOnly(e, ["host", "port"])
    return { host: a.host, port: yield* readInt(a.port, `<${e.name}> port`, 5) }
  })

export const bindingFrom = (e: XmlElement) =>
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

// --- Fast path -------------------------------------------------------------------------------

export const isId = isOf(Id)
export const isHandle = isOf(Handle)
export const isDeviceId = isOf(DeviceId)
export const isEpochMs = isOf(EpochMs)
export const isSeq = isOf(Seq)
export const isSerial = isOf(SerialHex)
const isDer = isOf(Der)
const isWireHost = isOf(WireHost)
const isWirePort = isOf(WirePort)

/** `attributesOnly`: no children, no text (not even blanks). */
export const isEmpty = (e: XmlElement): boolean => e.children.length === 0 && e.text === ""

/** A `<Cert>`: no attributes, no children, canonical base64 of 1 to 8192 bytes. */
export const cert = (e: XmlElement): Uint8Array | undefined => {
  if (e.attributes.length !== 0 || e.children.length !== 0) return undefined
  const der = base64Decode(e.text)
  return der !== undefined && isDer(der) ? der : undefined
}

/** An `<Address>` / `<Observed>`: empty, exactly `host` and `port`. */
export const address = (e: XmlElement): WireAddress | undefined => {
  if (!isEmpty(e)) return undefined
  let host: string | undefined
  let portText: string | undefined
  for (const a of e.attributes)
    if (a.name === "host") host = a.value
    else if (a.name === "port") portText = a.value
    else return undefined
  if (host === undefined || portText === undefined || !isWireHost(host)) return undefined
  const port = decimalInt(portText, 5)
  return port !== undefined && isWirePort(port) ? { host, port } : undefined
}

/** The 1 to 8 `<Address>` children of `e` (a `<Binding>` or a `<Register>`); `undefined` unless all are valid. */
export const addresses = (e: XmlElement): Array<WireAddress> | undefined => {
  const children = e.children
  if (children.length < 1 || children.length > MAX_ADDRESSES_PER_DEVICE || !isBlank(e.text)) return undefined
  const out: Array<WireAddress> = []
  for (const child of children) {
    if (child.name !== "Address" || child.namespace !== e.namespace) return undefined
    const a = address(child)
    if (a === undefined) return undefined
    out.push(a)
  }
  return out
}

/** A `<Binding>`: `device`, `expires`, `seq`, then 1 to 8 `<Address>` children. */
const binding = (e: XmlElement): BindingInfo | undefined => {
  let device: string | undefined
  let expires: string | undefined
  let seqText: string | undefined
  for (const a of e.attributes)
    if (a.name === "device") device = a.value
    else if (a.name === "expires") expires = a.value
    else if (a.name === "seq") seqText = a.value
    else return undefined
  if (device === undefined || expires === undefined || seqText === undefined || !isDeviceId(device)) return undefined
  const list = addresses(e)
  if (list === undefined) return undefined
  const expiresAt = parseUtcTimestamp(expires)
  const seq = decimalBigInt(seqText)
  if (expiresAt === undefined || !isEpochMs(expiresAt) || seq === undefined || !isSeq(seq)) return undefined
  return { deviceId: device, addresses: list as never, expiresAt, seq }
}

/** Appends the `<Binding>` children from `from` on to `out`; false unless all of them are valid. */
export const bindingsFrom = (e: XmlElement, from: number, out: Array<BindingInfo>): boolean => {
  const children = e.children
  if (children.length - from > MAX_BINDINGS) return false
  for (let i = from; i < children.length; i++) {
    const child = children[i]!
    if (child.name !== "Binding" || child.namespace !== e.namespace) return false
    const b = binding(child)
    if (b === undefined) return false
    out.push(b)
  }
  return true
}
