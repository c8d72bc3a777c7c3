/**
 * The writing half of the IRP XML mapping (see `./xml.ts`): every IRP wire message as an element tree or
 * straight as document bytes, the hot ones without building a tree. Pure.
 */
import { elementsIn, presentAttributes, type XmlElement } from "../xml/model.js"
import { base64Encode, certificateBase64, formatUtcTimestamp } from "../xml/values.js"
import { documentBytes, escapeAttribute, writeXml } from "../xml/write.js"
import {
  type BindingInfo,
  IRP_NAMESPACE,
  type IrpRequest,
  type IrpServerMessage,
  type WireAddress
} from "./messages.js"

export type IrpMessage = IrpRequest | IrpServerMessage

// --- Times -------------------------------------------------------------------------------

/** RFC 3339 UTC with milliseconds (`2026-11-26T12:00:00.000Z`). */
export const formatTimestamp = formatUtcTimestamp

// --- Encoding ----------------------------------------------------------------------------

const el = elementsIn(IRP_NAMESPACE)

const attrs = presentAttributes

const addressEl = (name: string, a: WireAddress) => el(name, attrs(["host", a.host], ["port", String(a.port)]))
const certEl = (der: Uint8Array) => el("Cert", [], [], certificateBase64(der))
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
      return el(
        "Status",
        attrs(
          ["id", msg.id],
          ["serial", msg.serial],
          ["staple", msg.staple ? "true" : undefined],
          ["domain", msg.domain]
        )
      )
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
    case "irp.DomainInfo":
      return el("DomainInfo", attrs(["id", msg.id], ["domain", msg.domain]))
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
        ...msg.bindings.map(bindingEl),
        ...(msg.domainCa === undefined ? [] : [el("DomainCa", [], [], certificateBase64(msg.domainCa))])
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
        ),
        msg.staple === undefined ? [] : [el("Staple", [], [], base64Encode(msg.staple))]
      )
    case "irp.CrlResult":
      return el(
        "CrlResult",
        attrs(["id", msg.id], ["part", String(msg.part)], ["parts", String(msg.parts)]),
        [],
        base64Encode(msg.der)
      )
    case "irp.DomainInfoResult":
      return el("DomainInfoResult", attrs(["id", msg.id], ["domain", msg.domain], ["policy", msg.policy]), [
        certEl(msg.root)
      ])
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
 * The messages of every Lookup, Register and Ping, `<Ping>`, `<Ok>`, `<Lookup>`, `<LookupResult>`,
 * `<Register>` and `<Registered>`, written straight from their fields: byte for byte what `writeXml(irpToElement(msg))` writes (a property test
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
    case "irp.Register": {
      const head = `<Register${XMLNS} id="${escapeAttribute(msg.id)}" device="${escapeAttribute(msg.deviceId)}" ttl="${msg.ttlSeconds}" seq="${msg.seq.toString()}"`
      if (msg.addresses.length === 0) return `${head}/>`
      let out = `${head}>`
      for (const a of msg.addresses) out += `<Address host="${escapeAttribute(a.host)}" port="${a.port}"/>`
      return `${out}</Register>`
    }
    case "irp.LookupResult": {
      const head = `<LookupResult${XMLNS} id="${escapeAttribute(msg.id)}" handle="${escapeAttribute(msg.handle)}" status="${escapeAttribute(msg.status)}"`
      if (msg.chain.length === 0 && msg.bindings.length === 0 && msg.domainCa === undefined) return `${head}/>`
      let out = `${head}>`
      for (const der of msg.chain) out += der.length === 0 ? "<Cert/>" : `<Cert>${certificateBase64(der)}</Cert>`
      for (const b of msg.bindings) out += bindingText(b)
      if (msg.domainCa !== undefined) out += `<DomainCa>${certificateBase64(msg.domainCa)}</DomainCa>`
      return `${out}</LookupResult>`
    }
    case "irp.Registered": {
      const head = `<Registered${XMLNS} id="${escapeAttribute(msg.id)}" natSuspected="${msg.natSuspected}"`
      if (msg.observed === undefined && msg.bindings.length === 0) return `${head}/>`
      let out = `${head}>`
      if (msg.observed !== undefined)
        out += `<Observed host="${escapeAttribute(msg.observed.host)}" port="${msg.observed.port}"/>`
      for (const b of msg.bindings) out += bindingText(b)
      return `${out}</Registered>`
    }
    default:
      return undefined
  }
}

export const encodeIrp = (msg: IrpMessage): Uint8Array => {
  const text = directText(msg)
  return text === undefined ? writeXml(irpToElement(msg)) : documentBytes(text)
}
