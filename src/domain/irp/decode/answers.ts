/**
 * The decoders of what the client reads (PROTOCOL.md §17): the answers and the `<Changed>` push, one per
 * message; all but `<Issued>` and `<CrlResult>` with a fast reader in front of their Schema path (the
 * contract is in `./parts.ts`). `<StatusResult>` and `<Error>` are in `./status.ts`. Pure.
 */
import { Either } from "effect"
import { isBlank } from "../../xml/chars.js"
import { isOf } from "../../xml/is.js"
import type { XmlElement } from "../../xml/model.js"
import { decodeWith, readAttributes, readBase64, readChildren, readInt, readText } from "../../xml/read.js"
import {
  type BindingInfo,
  Changed,
  CrlResult,
  IdentityStatus,
  type IrpServerMessage,
  Issued,
  LookupResult,
  MAX_BINDINGS,
  MAX_CHAIN,
  Ok,
  Registered,
  type WireAddress
} from "../messages.js"
import { domainInfoAnswerDecoders } from "./domainInfo.js"
import {
  address,
  addressFrom,
  attributesOnly,
  bindingFrom,
  bindingsFrom,
  cert,
  isEmpty,
  isHandle,
  isId,
  leafBase64,
  type MessageDecoder,
  readBool,
  readTime
} from "./parts.js"
import { statusDecoders } from "./status.js"

const isStatus = isOf(IdentityStatus)

const issued = decodeWith(Issued, "<Issued>")
const registered = decodeWith(Registered, "<Registered>")
const lookupResult = decodeWith(LookupResult, "<LookupResult>")
const crlResult = decodeWith(CrlResult, "<CrlResult>")
const ok = decodeWith(Ok, "<Ok>")
const changed = decodeWith(Changed, "<Changed>")

/** The decoder of each answer and push, by element name. */
export const serverMessageDecoders: Readonly<Record<string, MessageDecoder<IrpServerMessage>>> = {
  Issued: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "serial", "notAfter"])
        const c = yield* readChildren(e, [{ name: "Cert", min: 1, max: MAX_CHAIN }])
        return yield* issued({
          _tag: "irp.Issued",
          id: a.id,
          serial: a.serial,
          notAfter: yield* readTime(a.notAfter, "<Issued> notAfter"),
          chain: yield* Either.all(c.Cert.map(leafBase64))
        })
      })
  },
  Registered: {
    fast: (e) => {
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
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "natSuspected"])
        const c = yield* readChildren(e, [
          { name: "Observed", min: 0, max: 1 },
          { name: "Binding", min: 0, max: MAX_BINDINGS }
        ])
        const observed = c.Observed[0]
        return yield* registered({
          _tag: "irp.Registered",
          id: a.id,
          natSuspected: yield* readBool(a.natSuspected, "<Registered> natSuspected"),
          observed: observed === undefined ? undefined : yield* addressFrom(observed),
          bindings: yield* Either.all(c.Binding.map(bindingFrom))
        })
      })
  },
  LookupResult: {
    fast: (e) => {
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
      // A foreign handle's answer ends with <DomainCa> (§22.3.3): left to the schema path.
      const bindings: Array<BindingInfo> = []
      if (!bindingsFrom(e, i, bindings)) return undefined
      return { _tag: "irp.LookupResult", id, handle, status, chain, bindings }
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "handle", "status"])
        const c = yield* readChildren(e, [
          { name: "Cert", min: 0, max: MAX_CHAIN },
          { name: "Binding", min: 0, max: MAX_BINDINGS },
          { name: "DomainCa", min: 0, max: 1 }
        ])
        const domainCa = c.DomainCa[0] === undefined ? undefined : yield* leafBase64(c.DomainCa[0])
        return yield* lookupResult({
          _tag: "irp.LookupResult",
          ...a,
          chain: yield* Either.all(c.Cert.map(leafBase64)),
          bindings: yield* Either.all(c.Binding.map(bindingFrom)),
          ...(domainCa === undefined ? {} : { domainCa })
        })
      })
  },
  ...statusDecoders,
  ...domainInfoAnswerDecoders,
  CrlResult: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "part", "parts"])
        return yield* crlResult({
          _tag: "irp.CrlResult",
          id: a.id,
          part: yield* readInt(a.part, "<CrlResult> part", 3),
          parts: yield* readInt(a.parts, "<CrlResult> parts", 3),
          der: yield* readBase64(yield* readText(e), "<CrlResult>")
        })
      })
  },
  Ok: {
    fast: (e) => {
      if (!isEmpty(e) || e.attributes.length !== 1) return undefined
      const a = e.attributes[0]!
      return a.name === "id" && isId(a.value) ? { _tag: "irp.Ok", id: a.value } : undefined
    },
    schema: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => ok({ _tag: "irp.Ok", ...a }))
  },
  Changed: {
    fast: (e: XmlElement) => {
      let handle: string | undefined
      let status: string | undefined
      for (const a of e.attributes)
        if (a.name === "handle") handle = a.value
        else if (a.name === "status") status = a.value
        else return undefined
      if (!isHandle(handle) || !isStatus(status) || !isBlank(e.text)) return undefined
      const bindings: Array<BindingInfo> = []
      return bindingsFrom(e, 0, bindings) ? { _tag: "irp.Changed", handle, status, bindings } : undefined
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["handle", "status"])
        const c = yield* readChildren(e, [{ name: "Binding", min: 0, max: MAX_BINDINGS }])
        return yield* changed({
          _tag: "irp.Changed",
          ...a,
          bindings: yield* Either.all(c.Binding.map(bindingFrom))
        })
      })
  }
}
