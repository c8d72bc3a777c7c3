/**
 * One sentence for a document that breaks its Schema (issue 10, section 6: an IRP `<Error>` used to
 * carry a 512-character dump of the Schema's type): which attribute or element is wrong, its value,
 * and what a good one looks like. E.g. `<Lookup handle="Alice@Example.org">: a handle must be lower
 * case: write "alice@example.org".`
 */
import { ParseResult } from "effect"

/** Decoded field names that differ from the attribute or element a person wrote. */
const WRITTEN: Readonly<Record<string, string>> = {
  deviceId: "device",
  ttlSeconds: "ttl",
  addresses: "Address",
  handles: "Handle",
  algorithm: "alg"
}

const HANDLE =
  /^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

const handleReason = (value: unknown): string =>
  typeof value === "string" && value !== value.toLowerCase() && HANDLE.test(value.toLowerCase())
    ? `a handle must be lower case: write "${value.toLowerCase()}"`
    : "a handle is local@domain in lower case letters, digits and . _ + -, such as alice@example.org"

/** Decoded fields that a message writes as a child element's text, not as an attribute. */
const CHILD_TEXT: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "<Deregister>": { deviceId: "Device" }
}

/** What a good value looks like, by field name. */
const HINTS: Readonly<Record<string, (value: unknown) => string>> = {
  handle: handleReason,
  id: () => "an id is a ULID (26 characters of Crockford base32, upper case) or a UUIDv7 (lower-case hex)",
  port: () => "a port is a whole number from 1 to 65535",
  host: () => "a host is an IP address (IPv6 without brackets) or a DNS name",
  ttlSeconds: () => "a ttl is a whole number of seconds within the limits of PROTOCOL.md section 17",
  seq: () => "seq is a whole number without sign or leading zeros",
  deviceId: () => "a device id is 1 to 64 letters, digits, '.', '_' or '-'",
  handles: handleReason,
  serial: () =>
    "a serial is lower-case hex without leading zeros, at most 40 digits, such as 467017c4f35ee38f94cd7b78c2762af0",
  token: () => "a token is the text the operator gave, 1 to 128 printable ASCII characters without spaces"
}

/** `Expected "a", actual "x"` once per member of a union of literals: the values that would do. */
const literalChoices = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>, path: string): string | undefined => {
  const choices = issues
    .filter((i) => i.path.join(".") === path)
    .map((i) => /^Expected "([^"]*)", actual /.exec(i.message)?.[1])
  if (choices.length < 2 || choices.some((c) => c === undefined)) return undefined
  return `it is one of ${choices.join(", ")}`
}

const TOKEN = () => "a token is 1 to 64 letters, digits, '.', '_' or '-' (PROTOCOL.md §4.5)"

/** Hints for one element's field (`Element.field`), where a field name means different things by protocol. */
const ELEMENT_HINTS: Readonly<Record<string, (value: unknown) => string>> = {
  "Alert.code": () => "code is one of the alert codes of PROTOCOL.md §12.3, such as decode_error",
  "Typing.state": () => 'state is "active" or "paused"',
  "Message.sent": () => "sent is an RFC 3339 time in UTC such as 2026-01-31T09:30:00Z (PROTOCOL.md §4.5)",
  "Ping.nonce": TOKEN,
  "Pong.nonce": TOKEN,
  "Close.reason": TOKEN,
  "FileCancel.reason": TOKEN,
  "CertificateVerify.algorithm": TOKEN
}

/** The decoder's own words when they are a sentence for people (a filter's message), not a type. */
const plain = (message: string): string | undefined =>
  message.length <= 160 && !/pattern|Brand<|readonly |\{/.test(message) ? message : undefined

const at = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let value = input
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined
    value = (value as Record<PropertyKey, unknown>)[key]
  }
  return value
}

const textOf = (value: unknown): string => {
  if (typeof value === "string") return value
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") return String(value)
  if (value instanceof Uint8Array) return `${value.length} bytes`
  try {
    return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v)) ?? String(value)
  } catch {
    return String(value)
  }
}

const shown = (value: unknown): string => {
  const text = textOf(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** `what` is the element as written (`<Lookup>`); `input` what was decoded. */
export const schemaSentence = (what: string, error: ParseResult.ParseError, input: unknown): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return `${what} breaks its schema (see the schema directory).`
  const keys = first.path.filter((k): k is string => typeof k === "string")
  const field = keys[keys.length - 1]
  if (field === undefined) return `${what} breaks its schema: ${plain(first.message) ?? "see the schema directory"}.`
  const name = WRITTEN[field] ?? field
  // A field of a child element (`addresses[0].port`) is written as that element's attribute.
  const parent = keys.length > 1 ? keys[keys.length - 2]! : undefined
  const element = parent === undefined ? what.replace(/>$/, "") : `<${WRITTEN[parent] ?? parent}`
  if (first._tag === "Missing") return `${element}> lacks ${name}, which it needs.`
  if (first._tag === "Unexpected") return `${element}> has ${name}, which it may not have.`
  const value = at(input, first.path)
  const root = /^<([A-Za-z]+)/.exec(what)?.[1]
  const hint = (root === undefined ? undefined : ELEMENT_HINTS[`${root}.${field}`]) ?? HINTS[field]
  const reason =
    hint?.(value) ??
    literalChoices(issues, first.path.join(".")) ??
    plain(first.message) ??
    "that value is not allowed (see the schema directory)"
  // An item of a list of child elements (`handles[0]`) is that child's text: `<Watch><Handle>x</Handle>`.
  if (typeof first.path[first.path.length - 1] === "number")
    return `${element}><${name}>${shown(value)}</${name}>: ${reason}.`
  const child = parent === undefined ? CHILD_TEXT[what]?.[field] : undefined
  if (child !== undefined) return `${element}><${child}>${shown(value)}</${child}>: ${reason}.`
  return `${element} ${name}="${shown(value)}">: ${reason}.`
}
