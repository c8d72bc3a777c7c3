/**
 * Branded identifiers shared by every part of SixChat (PROTOCOL.md §§2, 4, 13).
 * Pure: schemas and brands only.
 */
import { Schema } from "effect"

/** `local@domain`: what a certificate's CN / SAN rfc822Name carries and what a peer is dialed by. */
export const Handle = Schema.String.pipe(
  Schema.maxLength(254),
  Schema.pattern(
    /^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
  ),
  Schema.brand("Handle")
)
export type Handle = typeof Handle.Type

/** The domain part of a handle, whose IRP server is authoritative for it. */
export const handleDomain = (handle: Handle): string => handle.slice(handle.lastIndexOf("@") + 1)

/** SHA-256 of a certificate's SubjectPublicKeyInfo DER, lower-case hex (64 characters). */
export const Fingerprint = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/), Schema.brand("Fingerprint"))
export type Fingerprint = typeof Fingerprint.Type

/** A TCP port number. */
export const Port = Schema.Int.pipe(Schema.between(0, 65535), Schema.brand("Port"))
export type Port = typeof Port.Type

/** A host: an IPv4 or IPv6 literal (no brackets) or a DNS name. */
export const Host = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(253), Schema.brand("Host"))
export type Host = typeof Host.Type

/** A transport address: host plus port. */
export const Address = Schema.Struct({ host: Host, port: Port })
export type Address = typeof Address.Type

export const makeAddress = (host: string, port: number): Address => ({ host: host as Host, port: port as Port })

/** `host:port`, with IPv6 literals in brackets (`[::1]:4605`). */
export const formatAddress = (address: Address): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/** Parses `host:port` or `[v6]:port`; `undefined` when malformed. */
export const parseAddress = (text: string): Address | undefined => {
  const m = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(text)
  if (m === null) return undefined
  const port = Number(m[2])
  if (!Number.isInteger(port) || port > 65535) return undefined
  return makeAddress(m[1]!, port)
}

/** ULID (Crockford base32, 26 characters): message, file and request identifiers. */
export const Ulid = Schema.String.pipe(Schema.pattern(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/), Schema.brand("Ulid"))
export type Ulid = typeof Ulid.Type

/** UUIDv7 (lower-case, hyphenated), accepted wherever an identifier is. */
export const UuidV7 = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
  Schema.brand("UuidV7")
)
export type UuidV7 = typeof UuidV7.Type

/** Message / file / request identifier: a ULID or a UUIDv7 (PROTOCOL.md §4). */
export const Id = Schema.Union(Ulid, UuidV7)
export type Id = typeof Id.Type

/** Role of a side of one connection (PROTOCOL.md §6). */
export const Role = Schema.Literal("initiator", "responder")
export type Role = typeof Role.Type
