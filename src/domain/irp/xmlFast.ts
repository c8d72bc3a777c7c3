/**
 * Hand-written decoding of the messages read on every request: the answers a client reads (`<Ok>`,
 * `<LookupResult>`, `<Registered>`, `<StatusResult>`, `<Error>`, and `<Changed>` pushes) and the
 * requests a server reads most (`<Ping>`, `<Lookup>`, `<Register>`, `<Status>`). Pure.
 *
 * Why: the general path (`./xml.ts`) takes the element apart through `Either` helpers, builds an input
 * object and runs it through the message's Schema; on a 1.6 KB `<LookupResult>` that costs ~20 µs, most
 * of it in `ParseResult` frames. Here one pass over the element checks the same rules and builds the value
 * directly (~3 µs).
 *
 * The contract, which `test/irp/protocol/xmlFast.test.ts` checks on generated and edited documents: a
 * reader here returns either `undefined` ("not decided here") or exactly the value the Schema path
 * returns, same fields in the same order. It decides only documents that are valid; for anything else it
 * steps aside and the Schema path produces its value or its precise error, so the errors are the same by
 * construction. Leaf values are still checked by their own schemas (`isOf(Id)`, `isOf(Handle)`, ...: the
 * schemas' own filters, see `../xml/is.ts`), so a change to a brand cannot make this path accept what the
 * Schema path refuses.
 */
import { Handle, Id } from "../brands.js"
import { isXmlSpace } from "../xml/chars.js"
import { isOf } from "../xml/is.js"
import type { XmlAttribute, XmlElement } from "../xml/model.js"
import { base64Decode, decimalBigInt, decimalInt, parseUtcTimestamp } from "../xml/values.js"
import { RevocationReason, SerialHex } from "./certificates.js"
import {
  type BindingInfo,
  type Changed,
  Der,
  EpochMs,
  ErrorCode,
  ErrorMessage,
  IdentityStatus,
  type IrpError,
  type IrpRequest,
  type IrpServerMessage,
  type Lookup,
  type LookupResult,
  MAX_BINDINGS,
  MAX_CHAIN,
  MAX_WIRE_TTL,
  type Ok,
  type Ping,
  type Register,
  type Registered,
  RetryAfterMs,
  type Status,
  type StatusResult,
  type WireAddress,
  WireHost,
  WirePort
} from "./messages.js"
import { DeviceId, MAX_ADDRESSES_PER_DEVICE, Seq } from "./registry.js"

const isId = isOf(Id)
const isHandle = isOf(Handle)
const isStatus = isOf(IdentityStatus)
const isDer = isOf(Der)
const isDeviceId = isOf(DeviceId)
const isWireHost = isOf(WireHost)
const isWirePort = isOf(WirePort)
const isEpochMs = isOf(EpochMs)
const isSeq = isOf(Seq)
const isSerial = isOf(SerialHex)
const isReason = isOf(RevocationReason)
const isErrorCode = isOf(ErrorCode)
const isErrorMessage = isOf(ErrorMessage)
const isRetryAfter = isOf(RetryAfterMs)

const isBlank = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (!isXmlSpace(s.charCodeAt(i))) return false
  return true
}

/** `attributesOnly`: no children, no text (not even blanks). */
const isEmpty = (e: XmlElement): boolean => e.children.length === 0 && e.text === ""

/** A `<Cert>`: no attributes, no children, canonical base64 of 1 to 8192 bytes. */
const cert = (e: XmlElement): Uint8Array | undefined => {
  if (e.attributes.length !== 0 || e.children.length !== 0) return undefined
  const der = base64Decode(e.text)
  return der !== undefined && isDer(der) ? der : undefined
}

/** An `<Address>` / `<Observed>`: empty, exactly `host` and `port`. */
const address = (e: XmlElement): WireAddress | undefined => {
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
  const children = e.children
  if (children.length < 1 || children.length > MAX_ADDRESSES_PER_DEVICE || !isBlank(e.text)) return undefined
  const addresses: Array<WireAddress> = []
  for (const child of children) {
    if (child.name !== "Address" || child.namespace !== e.namespace) return undefined
    const a = address(child)
    if (a === undefined) return undefined
    addresses.push(a)
  }
  const expiresAt = parseUtcTimestamp(expires)
  const seq = decimalBigInt(seqText)
  if (expiresAt === undefined || !isEpochMs(expiresAt) || seq === undefined || !isSeq(seq)) return undefined
  return { deviceId: device, addresses: addresses as never, expiresAt, seq }
}

/** Appends the `<Binding>` children from `from` on to `out`; false unless all of them are valid. */
const bindingsFrom = (e: XmlElement, from: number, out: Array<BindingInfo>): boolean => {
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

const ok = (e: XmlElement): Ok | undefined => {
  if (!isEmpty(e) || e.attributes.length !== 1) return undefined
  const a = e.attributes[0]!
  return a.name === "id" && isId(a.value) ? { _tag: "irp.Ok", id: a.value } : undefined
}

const lookupResult = (e: XmlElement): LookupResult | undefined => {
  let id: string | undefined
  let handle: string | undefined
  let status: string | undefined
  for (const a of e.attributes)
    if (a.name === "id") id = a.value
    else if (a.name === "handle") handle = a.value
    else if (a.name === "status") status = a.value
    else return undefined
  if (!isId(id) || !isHandle(handle) || !isStatus(status) || !isBlank(e.text)) return undefined
  // <Cert>{0,5} then <Binding>{0,64}.
  const children = e.children
  const chain: Array<Uint8Array> = []
  let i = 0
  for (; i < children.length && children[i]!.name === "Cert"; i++) {
    const child = children[i]!
    if (chain.length === MAX_CHAIN || child.namespace !== e.namespace) return undefined
    const der = cert(child)
    if (der === undefined) return undefined
    chain.push(der)
  }
  const bindings: Array<BindingInfo> = []
  if (!bindingsFrom(e, i, bindings)) return undefined
  return { _tag: "irp.LookupResult", id, handle, status, chain, bindings }
}

const registered = (e: XmlElement): Registered | undefined => {
  let id: string | undefined
  let nat: string | undefined
  for (const a of e.attributes)
    if (a.name === "id") id = a.value
    else if (a.name === "natSuspected") nat = a.value
    else return undefined
  if (!isId(id) || (nat !== "true" && nat !== "false") || !isBlank(e.text)) return undefined
  // <Observed>? then <Binding>{0,64}.
  const first = e.children[0]
  const hasObserved = first !== undefined && first.name === "Observed"
  let observed: WireAddress | undefined
  if (hasObserved) {
    if (first.namespace !== e.namespace) return undefined
    observed = address(first)
    if (observed === undefined) return undefined
  }
  const bindings: Array<BindingInfo> = []
  if (!bindingsFrom(e, hasObserved ? 1 : 0, bindings)) return undefined
  return { _tag: "irp.Registered", id, bindings, observed, natSuspected: nat === "true" }
}

/** The optional `<Staple>` child of a good `<StatusResult>` (§17.8.1): canonical base64, 1 to 1024 bytes. */
const stapleOf = (e: XmlElement): Uint8Array | null | undefined => {
  if (e.children.length === 0) return e.text === "" ? null : undefined
  const child = e.children[0]!
  if (e.children.length !== 1 || !isBlank(e.text) || child.name !== "Staple" || child.namespace !== e.namespace)
    return undefined
  if (child.attributes.length !== 0 || child.children.length !== 0) return undefined
  const bytes = base64Decode(child.text)
  return bytes !== undefined && bytes.length >= 1 && bytes.length <= 1024 ? bytes : undefined
}

const statusResult = (e: XmlElement): StatusResult | undefined => {
  const staple = stapleOf(e)
  if (staple === undefined) return undefined
  let id: string | undefined
  let serial: string | undefined
  let status: string | undefined
  let revokedAtText: string | undefined
  let reason: string | undefined
  for (const a of e.attributes)
    if (a.name === "id") id = a.value
    else if (a.name === "serial") serial = a.value
    else if (a.name === "status") status = a.value
    else if (a.name === "revokedAt") revokedAtText = a.value
    else if (a.name === "reason") reason = a.value
    else return undefined
  if (!isId(id) || !isSerial(serial)) return undefined
  if (status === "revoked") {
    if (revokedAtText === undefined || !isReason(reason) || staple !== null) return undefined
    const revokedAt = parseUtcTimestamp(revokedAtText)
    return revokedAt !== undefined && isEpochMs(revokedAt)
      ? { _tag: "irp.StatusResult", id, serial, status, revokedAt, reason }
      : undefined
  }
  if (staple !== null)
    return status === "good" && revokedAtText === undefined && reason === undefined
      ? { _tag: "irp.StatusResult", id, serial, status, staple }
      : undefined
  return (status === "good" || status === "unknown") && revokedAtText === undefined && reason === undefined
    ? { _tag: "irp.StatusResult", id, serial, status }
    : undefined
}

const changed = (e: XmlElement): Changed | undefined => {
  let handle: string | undefined
  let status: string | undefined
  for (const a of e.attributes)
    if (a.name === "handle") handle = a.value
    else if (a.name === "status") status = a.value
    else return undefined
  if (!isHandle(handle) || !isStatus(status) || !isBlank(e.text)) return undefined
  const bindings: Array<BindingInfo> = []
  return bindingsFrom(e, 0, bindings) ? { _tag: "irp.Changed", handle, status, bindings } : undefined
}

const error = (e: XmlElement): IrpError | undefined => {
  if (!isEmpty(e)) return undefined
  let id: string | undefined
  let code: string | undefined
  let message: string | undefined
  let retryText: string | undefined
  for (const a of e.attributes)
    if (a.name === "id") id = a.value
    else if (a.name === "code") code = a.value
    else if (a.name === "message") message = a.value
    else if (a.name === "retryAfterMs") retryText = a.value
    else return undefined
  if (!isErrorCode(code) || !isErrorMessage(message) || (id !== undefined && !isId(id))) return undefined
  const retryAfterMs = retryText === undefined ? undefined : decimalInt(retryText, 8)
  if (retryText !== undefined && (retryAfterMs === undefined || !isRetryAfter(retryAfterMs))) return undefined
  return {
    _tag: "irp.Error",
    ...(id === undefined ? {} : { id }),
    code,
    message,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs })
  }
}

const readers: Readonly<Record<string, (e: XmlElement) => IrpServerMessage | undefined>> = {
  Ok: ok,
  LookupResult: lookupResult,
  Registered: registered,
  StatusResult: statusResult,
  Changed: changed,
  Error: error
}

/**
 * The answer `root` (already known to be in the IRP namespace) decodes to, when it is one of the kinds
 * read here and valid; `undefined` sends it down the Schema path.
 */
export const fastServerMessage = (root: XmlElement): IrpServerMessage | undefined => {
  const reader = Object.hasOwn(readers, root.name) ? readers[root.name] : undefined
  return reader === undefined ? undefined : reader(root)
}

// --- Requests ------------------------------------------------------------------------------

/** An empty element with exactly the attributes `a` and `b` (`attributesOnly(e, [a, b])`), their values. */
const twoAttributes = (e: XmlElement, a: string, b: string): readonly [string, string] | undefined => {
  if (!isEmpty(e) || e.attributes.length !== 2) return undefined
  const [x, y] = e.attributes as readonly [XmlAttribute, XmlAttribute]
  if (x.name === a && y.name === b) return [x.value, y.value]
  if (x.name === b && y.name === a) return [y.value, x.value]
  return undefined
}

const ping = (e: XmlElement): Ping | undefined => {
  if (!isEmpty(e) || e.attributes.length !== 1) return undefined
  const a = e.attributes[0]!
  return a.name === "id" && isId(a.value) ? { _tag: "irp.Ping", id: a.value } : undefined
}

const lookup = (e: XmlElement): Lookup | undefined => {
  const values = twoAttributes(e, "id", "handle")
  if (values === undefined) return undefined
  const [id, handle] = values
  return isId(id) && isHandle(handle) ? { _tag: "irp.Lookup", id, handle } : undefined
}

const status = (e: XmlElement): Status | undefined => {
  if (e.attributes.length === 3) {
    // `<Status id serial staple="true"/>` (§17.8.1), in any attribute order.
    if (!isEmpty(e)) return undefined
    let id: string | undefined
    let serial: string | undefined
    let staple: string | undefined
    for (const a of e.attributes)
      if (a.name === "id") id = a.value
      else if (a.name === "serial") serial = a.value
      else if (a.name === "staple") staple = a.value
      else return undefined
    return isId(id) && isSerial(serial) && staple === "true"
      ? { _tag: "irp.Status", id, serial, staple: true }
      : undefined
  }
  const values = twoAttributes(e, "id", "serial")
  if (values === undefined) return undefined
  const [id, serial] = values
  return isId(id) && isSerial(serial) ? { _tag: "irp.Status", id, serial } : undefined
}

/** `<Register id device ttl seq>` with 1 to 8 `<Address>` children: every device renews its lease with one. */
const register = (e: XmlElement): Register | undefined => {
  let id: string | undefined
  let device: string | undefined
  let ttlText: string | undefined
  let seqText: string | undefined
  for (const a of e.attributes)
    if (a.name === "id") id = a.value
    else if (a.name === "device") device = a.value
    else if (a.name === "ttl") ttlText = a.value
    else if (a.name === "seq") seqText = a.value
    else return undefined
  if (!isId(id) || device === undefined || !isDeviceId(device) || ttlText === undefined || seqText === undefined)
    return undefined
  const children = e.children
  if (children.length < 1 || children.length > MAX_ADDRESSES_PER_DEVICE || !isBlank(e.text)) return undefined
  const addresses: Array<WireAddress> = []
  for (const child of children) {
    if (child.name !== "Address" || child.namespace !== e.namespace) return undefined
    const a = address(child)
    if (a === undefined) return undefined
    addresses.push(a)
  }
  const ttlSeconds = decimalInt(ttlText, 9)
  const seq = decimalBigInt(seqText)
  if (ttlSeconds === undefined || ttlSeconds > MAX_WIRE_TTL || seq === undefined || !isSeq(seq)) return undefined
  return { _tag: "irp.Register", id, deviceId: device, addresses: addresses as never, ttlSeconds, seq }
}

const requestReaders: Readonly<Record<string, (e: XmlElement) => IrpRequest | undefined>> = {
  Ping: ping,
  Lookup: lookup,
  Register: register,
  Status: status
}

/** The request `root` (already known to be in the IRP namespace) decodes to, as `fastServerMessage`. */
export const fastRequest = (root: XmlElement): IrpRequest | undefined => {
  const reader = Object.hasOwn(requestReaders, root.name) ? requestReaders[root.name] : undefined
  return reader === undefined ? undefined : reader(root)
}
