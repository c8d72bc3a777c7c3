/**
 * Every IRP wire message (PROTOCOL.md §17) as one Effect Schema with a namespaced `_tag`. The Type side
 * is what code acts on; the XML mapping lives in `./xml.ts` alone and `schema/irp.xsd` is normative.
 * Namespace of every element: `urn:sixchat:irp:1`.
 *
 * Requests carry an `id` (ULID or UUIDv7, PROTOCOL.md §4) that their answer echoes; the server may
 * answer requests of one connection out of order. `<Changed>` is pushed without an id. Times are epoch
 * milliseconds here and RFC 3339 UTC on the wire.
 */
import { Schema } from "effect"
import { Handle, Host, Id, Port } from "../brands.js"
import { firstNonXmlChar, XmlString } from "../xml/chars.js"
import { RevocationReason, SerialHex } from "./certificates.js"
import { bytesUpTo, Der } from "./der.js"
import { DomainInfo, DomainInfoResult, WireDomain } from "./domainInfo.js"
import { DeviceId, MAX_ADDRESSES_PER_DEVICE, Seq } from "./registry.js"

export const IRP_NAMESPACE = "urn:sixchat:irp:1"

/** Certificates in a chain: leaf plus at most 3 intermediates plus, if a CA sends it, the root. */
export const MAX_CHAIN = 5
/** Bindings in one answer; the server's device cap per handle is far below (default 8). */
export const MAX_BINDINGS = 64
/** Handles in one `<Watch>` / `<Unwatch>`. */
export const MAX_WATCH_HANDLES = 64
/** DER bytes of the CRL per `<CrlResult>` part: 60 000 base64 characters, well inside one record. */
export const CRL_PART_BYTES = 45_000
/** Parts of one CRL (about 11 MB of DER; a CRL grows by some 40 bytes per revoked certificate). */
export const MAX_CRL_PARTS = 256
/** Longest error text. */
const MAX_ERROR_MESSAGE = 512
/** Largest `ttl` the wire carries (the server's lease policy is far narrower and says so). */
export const MAX_WIRE_TTL = 999_999_999
/** Latest representable time: 9999-12-31T23:59:59.999Z. */
export const MAX_EPOCH_MS = 253_402_300_799_999

export { Der, DomainInfo, DomainInfoResult }
export const Chain = Schema.Array(Der).pipe(Schema.maxItems(MAX_CHAIN))

/** A point in time, epoch milliseconds (whole), on the wire an RFC 3339 UTC timestamp. */
export const EpochMs = Schema.Int.pipe(Schema.between(0, MAX_EPOCH_MS))

/**
 * A host as registered: an IP literal (IPv6 without brackets, optionally with a zone) or a DNS name.
 * Narrower than the `Host` brand so that every value is plain ASCII an XML attribute carries as is.
 */
export const WireHost = Host.pipe(Schema.pattern(/^[A-Za-z0-9._:%-]{1,253}$/))
export const WirePort = Port.pipe(Schema.greaterThanOrEqualTo(1))
export const WireAddress = Schema.Struct({ host: WireHost, port: WirePort })
export type WireAddress = typeof WireAddress.Type
export const WireAddresses = Schema.NonEmptyArray(WireAddress).pipe(Schema.maxItems(MAX_ADDRESSES_PER_DEVICE))

/**
 * An enrolment token as typed by a user: printable ASCII. The server checks its form (`sxe1-…`) and
 * answers `token_invalid` for a mistyped one, rather than refusing the whole request as malformed.
 */
export const TokenText = Schema.String.pipe(Schema.pattern(/^[!-~]{1,128}$/), Schema.brand("TokenText"))
export type TokenText = typeof TokenText.Type

/** One device's lease as others see it (the observed source address stays private). */
export const BindingInfo = Schema.Struct({
  deviceId: DeviceId,
  addresses: WireAddresses,
  expiresAt: EpochMs,
  seq: Seq
})
export type BindingInfo = typeof BindingInfo.Type
export const Bindings = Schema.Array(BindingInfo).pipe(Schema.maxItems(MAX_BINDINGS))

/** What the server knows about a handle's certificate: `unknown` when it holds no unexpired one. */
export const IdentityStatus = Schema.Literal("good", "revoked", "unknown")
export type IdentityStatus = typeof IdentityStatus.Type

// --- Requests (client -> server) ---------------------------------------------------------

/** Anonymous: a new identity from a one-time token (PROTOCOL.md §17). */
export const Enroll = Schema.TaggedStruct("irp.Enroll", { id: Id, handle: Handle, token: TokenText, csr: Der })
export type Enroll = typeof Enroll.Type
/** The holder: a new certificate for its handle. */
export const Renew = Schema.TaggedStruct("irp.Renew", { id: Id, csr: Der })
export type Renew = typeof Renew.Type
/** The holder: replaces one device's binding. */
export const Register = Schema.TaggedStruct("irp.Register", {
  id: Id,
  deviceId: DeviceId,
  addresses: WireAddresses,
  ttlSeconds: Schema.Int.pipe(Schema.between(0, MAX_WIRE_TTL)),
  seq: Seq
})
export type Register = typeof Register.Type
/** The holder: ends one device's lease, or (`deviceId: null`) every one of them. */
export const Deregister = Schema.TaggedStruct("irp.Deregister", { id: Id, deviceId: Schema.NullOr(DeviceId) })
export type Deregister = typeof Deregister.Type
export const Lookup = Schema.TaggedStruct("irp.Lookup", { id: Id, handle: Handle })
export type Lookup = typeof Lookup.Type
/** `staple`: also sign a short-lived status for a good certificate (PROTOCOL.md §17.8.1, §13.6.1). */
export const Status = Schema.TaggedStruct("irp.Status", {
  id: Id,
  serial: SerialHex,
  staple: Schema.optional(Schema.Literal(true)),
  /** A certificate of another domain: the home IRP relays the request there (PROTOCOL.md §22.4). */
  domain: Schema.optional(WireDomain)
})
export type Status = typeof Status.Type
export const Crl = Schema.TaggedStruct("irp.Crl", { id: Id })
export type Crl = typeof Crl.Type
export const Revoke = Schema.TaggedStruct("irp.Revoke", { id: Id, serial: SerialHex, reason: RevocationReason })
export type Revoke = typeof Revoke.Type
export const Watch = Schema.TaggedStruct("irp.Watch", {
  id: Id,
  handles: Schema.NonEmptyArray(Handle).pipe(Schema.maxItems(MAX_WATCH_HANDLES))
})
export type Watch = typeof Watch.Type
/** Stops pushes for these handles; no handle at all stops every watch of the connection. */
export const Unwatch = Schema.TaggedStruct("irp.Unwatch", {
  id: Id,
  handles: Schema.Array(Handle).pipe(Schema.maxItems(MAX_WATCH_HANDLES))
})
export type Unwatch = typeof Unwatch.Type
/** Keep-alive, answered `<Ok>`: keeps an idle watching connection inside both sides' idle limit. */
export const Ping = Schema.TaggedStruct("irp.Ping", { id: Id })
export type Ping = typeof Ping.Type

export const IrpRequest = Schema.Union(
  Enroll,
  Renew,
  Register,
  Deregister,
  Lookup,
  Status,
  Crl,
  Revoke,
  Watch,
  Unwatch,
  Ping,
  DomainInfo
)
export type IrpRequest = typeof IrpRequest.Type
export type IrpRequestTag = IrpRequest["_tag"]

// --- Answers (server -> client) ----------------------------------------------------------

/** `Enroll` / `Renew`: the issued chain, leaf first, with the leaf's serial and end of validity. */
export const Issued = Schema.TaggedStruct("irp.Issued", {
  id: Id,
  serial: SerialHex,
  notAfter: EpochMs,
  chain: Chain.pipe(Schema.minItems(1))
})
export type Issued = typeof Issued.Type

/** `Register`: all the holder's unexpired bindings, the source address seen, and whether a NAT is suspected. */
export const Registered = Schema.TaggedStruct("irp.Registered", {
  id: Id,
  bindings: Bindings,
  observed: Schema.UndefinedOr(WireAddress),
  natSuspected: Schema.Boolean
})
export type Registered = typeof Registered.Type

/** `Lookup`: the handle's status, certificate chain (empty when unknown) and unexpired bindings. */
export const LookupResult = Schema.TaggedStruct("irp.LookupResult", {
  id: Id,
  handle: Handle,
  status: IdentityStatus,
  chain: Chain,
  bindings: Bindings,
  /**
   * A handle of another domain (PROTOCOL.md §22.3.3, §22.4): that domain's root (DER), as the home IRP
   * fetched it over an authenticated federation session. Absent for a handle of the server's own domain.
   */
  domainCa: Schema.optional(Der)
})
export type LookupResult = typeof LookupResult.Type

/** `Status`: a certificate's revocation status; `revokedAt` and `reason` exactly when revoked. */
export const StatusResult = Schema.TaggedStruct("irp.StatusResult", {
  id: Id,
  serial: SerialHex,
  status: Schema.Literal("good", "revoked", "unknown"),
  revokedAt: Schema.optional(EpochMs),
  reason: Schema.optional(RevocationReason),
  /** The signed status of §13.6.1, only with `good` and only when asked for. */
  staple: Schema.optional(bytesUpTo(1, 1024))
}).pipe(
  Schema.filter(
    (s) =>
      (s.status === "revoked"
        ? s.revokedAt !== undefined && s.reason !== undefined
        : s.revokedAt === undefined && s.reason === undefined) ||
      "revokedAt and reason are given exactly when the status is revoked"
  ),
  Schema.filter((s) => s.staple === undefined || s.status === "good" || "a staple comes only with status good")
)
export type StatusResult = typeof StatusResult.Type

/** `Crl`: the signed DER CRL in `parts` consecutive answers, `part` counting from 1. */
export const CrlResult = Schema.TaggedStruct("irp.CrlResult", {
  id: Id,
  part: Schema.Int.pipe(Schema.between(1, MAX_CRL_PARTS)),
  parts: Schema.Int.pipe(Schema.between(1, MAX_CRL_PARTS)),
  der: bytesUpTo(1, CRL_PART_BYTES)
}).pipe(Schema.filter((c) => c.part <= c.parts || "part must not exceed parts"))
export type CrlResult = typeof CrlResult.Type

/** `Deregister`, `Revoke`, `Watch`, `Unwatch`, `Ping`: done. */
export const Ok = Schema.TaggedStruct("irp.Ok", { id: Id })
export type Ok = typeof Ok.Type

/** Pushed to a watcher when a watched handle's bindings or certificate status changed. */
export const Changed = Schema.TaggedStruct("irp.Changed", {
  handle: Handle,
  status: IdentityStatus,
  bindings: Bindings
})
export type Changed = typeof Changed.Type

/**
 * Error codes (documented in `schema/irp.xsd`). The general ones of PROTOCOL.md §17.10, plus precise ones a client acts on
 * differently: a lease outside the bounds, the device cap, a refused token, a refused CSR.
 */
export const ErrorCode = Schema.Literal(
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
  "csr_invalid",
  "federation_refused",
  "federation_unavailable"
)
export type ErrorCode = typeof ErrorCode.Type

/** The text of an `<Error>`. */
export const ErrorMessage = XmlString.pipe(Schema.maxLength(MAX_ERROR_MESSAGE))
/** With `rate_limited`: when the request would be accepted again. */
export const RetryAfterMs = Schema.Int.pipe(Schema.between(0, 99_999_999))

/** A refused request. `id` is absent only when the request's own id could not be read. */
export const IrpError = Schema.TaggedStruct("irp.Error", {
  id: Schema.optional(Id),
  code: ErrorCode,
  message: ErrorMessage,
  retryAfterMs: Schema.optional(RetryAfterMs)
})
export type IrpError = typeof IrpError.Type

export const IrpAnswer = Schema.Union(
  Issued,
  Registered,
  LookupResult,
  StatusResult,
  CrlResult,
  DomainInfoResult,
  Ok,
  IrpError
)
export type IrpAnswer = typeof IrpAnswer.Type

/** Everything the server sends. */
export const IrpServerMessage = Schema.Union(IrpAnswer, Changed)
export type IrpServerMessage = typeof IrpServerMessage.Type

/**
 * Not a wire message: what the server's codec yields for a well-formed document in any namespace that is
 * not a valid request, so that the server answers `bad_request` and the connection stays usable
 * (PROTOCOL.md §17: "errors are answers"). `id` is the document's `id` attribute when that one is valid.
 */
export interface InvalidRequest {
  readonly _tag: "irp.InvalidRequest"
  readonly id: Id | undefined
  readonly element: string
  readonly message: string
}

/** What the server receives. */
export type IrpServerInbound = IrpRequest | InvalidRequest

/** Replaces every code unit XML 1.0 cannot carry (controls, U+FFFE/U+FFFF, lone surrogates) with U+FFFD. */
const xmlSafe = (s: string): string => {
  let out = s
  for (let i = firstNonXmlChar(out); i >= 0; i = firstNonXmlChar(out))
    out = `${out.slice(0, i)}\uFFFD${out.slice(i + 1)}`
  return out
}

/** An `<Error>` answer; the text is made safe for the wire (XML characters only, at most 512 code units). */
export const irpError = (id: Id | undefined, code: ErrorCode, message: string, retryAfterMs?: number): IrpError => ({
  _tag: "irp.Error",
  ...(id === undefined ? {} : { id }),
  code,
  // Cut first: a surrogate pair cut in two becomes U+FFFD.
  message: xmlSafe(message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE - 1)}…` : message),
  ...(retryAfterMs === undefined ? {} : { retryAfterMs: Math.min(99_999_999, Math.max(0, Math.ceil(retryAfterMs))) })
})
