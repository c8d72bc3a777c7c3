/**
 * The decoders of the IRP requests (what the server reads, PROTOCOL.md §17), one per message; the ones
 * read on every exchange (`<Ping>`, `<Lookup>`, `<Register>`, `<Status>`) with a fast reader in front of
 * their Schema path (the contract is in `./parts.ts`). Pure.
 */
import { Either } from "effect"
import { DecodeError } from "../../xml/DecodeError.js"
import type { XmlAttribute, XmlElement } from "../../xml/model.js"
import { decodeWith, readAttributes, readBigInt, readChildren, readInt, schemaError } from "../../xml/read.js"
import { decimalBigInt, decimalInt } from "../../xml/values.js"
import {
  Crl,
  Deregister,
  Enroll,
  type IrpRequest,
  Lookup,
  MAX_WATCH_HANDLES,
  MAX_WIRE_TTL,
  Ping,
  Register,
  Renew,
  Revoke,
  Status,
  Unwatch,
  Watch
} from "../messages.js"
import { MAX_ADDRESSES_PER_DEVICE } from "../registry.js"
import { domainInfoRequestDecoders } from "./domainInfo.js"
import {
  addresses,
  addressFrom,
  attributesOnly,
  isDeviceId,
  isEmpty,
  isHandle,
  isId,
  isSeq,
  isSerial,
  leafBase64,
  leafText,
  type MessageDecoder
} from "./parts.js"

const csrOf = (e: XmlElement) =>
  Either.flatMap(readChildren(e, [{ name: "Csr", min: 1, max: 1 }]), (c) => leafBase64(c.Csr[0]!))

const handlesOf = (e: XmlElement, min: number) =>
  Either.flatMap(readChildren(e, [{ name: "Handle", min, max: MAX_WATCH_HANDLES }]), (c) =>
    Either.all(c.Handle.map(leafText))
  )

/** An empty element with exactly the attributes `a` and `b` (`attributesOnly(e, [a, b])`), their values. */
const twoAttributes = (e: XmlElement, a: string, b: string): readonly [string, string] | undefined => {
  if (!isEmpty(e) || e.attributes.length !== 2) return undefined
  const [x, y] = e.attributes as readonly [XmlAttribute, XmlAttribute]
  if (x.name === a && y.name === b) return [x.value, y.value]
  if (x.name === b && y.name === a) return [y.value, x.value]
  return undefined
}

const enroll = decodeWith(Enroll, "<Enroll>")
const renew = decodeWith(Renew, "<Renew>")
const register = decodeWith(Register, "<Register>")
const deregister = decodeWith(Deregister, "<Deregister>")
const lookup = decodeWith(Lookup, "<Lookup>")
const status = decodeWith(Status, "<Status>")
const crl = decodeWith(Crl, "<Crl>")
const revoke = decodeWith(Revoke, "<Revoke>")
const watch = decodeWith(Watch, "<Watch>")
const unwatch = decodeWith(Unwatch, "<Unwatch>")
const ping = decodeWith(Ping, "<Ping>")

/** The decoder of each request, by element name. */
export const requestDecoders: Readonly<Record<string, MessageDecoder<IrpRequest>>> = {
  Enroll: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "handle", "token"])
        return yield* enroll({ _tag: "irp.Enroll", ...a, csr: yield* csrOf(e) })
      })
  },
  Renew: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id"])
        return yield* renew({ _tag: "irp.Renew", ...a, csr: yield* csrOf(e) })
      })
  },
  Register: {
    /** `<Register id device ttl seq>` with 1 to 8 `<Address>` children: every device renews its lease with one. */
    fast: (e) => {
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
      const list = addresses(e)
      if (list === undefined) return undefined
      const ttlSeconds = decimalInt(ttlText, 9)
      const seq = decimalBigInt(seqText)
      if (ttlSeconds === undefined || ttlSeconds > MAX_WIRE_TTL || seq === undefined || !isSeq(seq)) return undefined
      return { _tag: "irp.Register", id, deviceId: device, addresses: list as never, ttlSeconds, seq }
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "device", "ttl", "seq"])
        const c = yield* readChildren(e, [{ name: "Address", min: 1, max: MAX_ADDRESSES_PER_DEVICE }])
        return yield* register({
          _tag: "irp.Register",
          id: a.id,
          deviceId: a.device,
          addresses: yield* Either.all(c.Address.map(addressFrom)),
          ttlSeconds: yield* readInt(a.ttl, "<Register> ttl", 9),
          seq: yield* readBigInt(a.seq, "<Register> seq")
        })
      })
  },
  Deregister: {
    schema: (e) =>
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
        return yield* deregister({ _tag: "irp.Deregister", id: a.id, deviceId })
      })
  },
  Lookup: {
    fast: (e) => {
      const values = twoAttributes(e, "id", "handle")
      if (values === undefined) return undefined
      const [id, handle] = values
      return isId(id) && isHandle(handle) ? { _tag: "irp.Lookup", id, handle } : undefined
    },
    schema: (e) => Either.flatMap(attributesOnly(e, ["id", "handle"]), (a) => lookup({ _tag: "irp.Lookup", ...a }))
  },
  Status: {
    fast: (e) => {
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
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* attributesOnly(e, ["id", "serial"], ["staple", "domain"])
        if (a.staple !== undefined && a.staple !== "true")
          return yield* Either.left(
            new DecodeError({ reason: "Schema", message: '<Status> staple is "true" or absent.' })
          )
        return yield* status({
          _tag: "irp.Status",
          id: a.id,
          serial: a.serial,
          ...(a.staple === undefined ? {} : { staple: true }),
          ...(a.domain === undefined ? {} : { domain: a.domain })
        })
      })
  },
  Crl: { schema: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => crl({ _tag: "irp.Crl", ...a })) },
  Revoke: {
    schema: (e) =>
      Either.flatMap(attributesOnly(e, ["id", "serial", "reason"]), (a) => revoke({ _tag: "irp.Revoke", ...a }))
  },
  Watch: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id"])
        return yield* watch({ _tag: "irp.Watch", ...a, handles: yield* handlesOf(e, 1) })
      })
  },
  Unwatch: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id"])
        return yield* unwatch({ _tag: "irp.Unwatch", ...a, handles: yield* handlesOf(e, 0) })
      })
  },
  Ping: {
    fast: (e) => {
      if (!isEmpty(e) || e.attributes.length !== 1) return undefined
      const a = e.attributes[0]!
      return a.name === "id" && isId(a.value) ? { _tag: "irp.Ping", id: a.value } : undefined
    },
    schema: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => ping({ _tag: "irp.Ping", ...a }))
  },
  ...domainInfoRequestDecoders
}
