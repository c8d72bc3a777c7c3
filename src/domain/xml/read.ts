/**
 * Helpers that take an `XmlElement` apart for a protocol mapping (E2E, IRP), strictly: an attribute or
 * child the caller did not name is an error, so a decoder and its XSD accept the same documents.
 * Every helper returns an `Either` whose failure is a `DecodeError` with reason "Schema".
 */

import { Either, Schema } from "effect"
import { isBlank } from "./chars.js"
import { DecodeError } from "./DecodeError.js"
import type { XmlElement } from "./model.js"
import { schemaSentence } from "./schemaSentence.js"
import { base64Decode, decimalBigInt, decimalInt, hexDecode } from "./values.js"

export const schemaError = (message: string, cause?: unknown): DecodeError =>
  new DecodeError(cause === undefined ? { reason: "Schema", message } : { reason: "Schema", message, cause })

/**
 * The element's attributes by name: every `required` one must be present, `optional` ones may be,
 * and any other attribute is refused.
 */
export const readAttributes = <const R extends string, const O extends string = never>(
  el: XmlElement,
  required: ReadonlyArray<R>,
  optional: ReadonlyArray<O> = []
): Either.Either<{ readonly [K in R]: string } & { readonly [K in O]?: string }, DecodeError> => {
  const out: Record<string, string> = {}
  for (const a of el.attributes) {
    if (!(required as ReadonlyArray<string>).includes(a.name) && !(optional as ReadonlyArray<string>).includes(a.name))
      return Either.left(schemaError(`<${el.name}> does not take an attribute ${a.name}.`))
    out[a.name] = a.value
  }
  for (const name of required)
    if (!Object.hasOwn(out, name)) return Either.left(schemaError(`<${el.name}> needs an attribute ${name}.`))
  return Either.right(out as { readonly [K in R]: string } & { readonly [K in O]?: string })
}

export interface ChildSpec<N extends string> {
  readonly name: N
  readonly min: number
  readonly max: number
}

/**
 * The element's children as an ordered sequence (like `xs:sequence`): each name in `spec` order,
 * between `min` and `max` times, all in the parent's namespace; whitespace between them is ignored.
 */
export const readChildren = <const N extends string>(
  el: XmlElement,
  spec: ReadonlyArray<ChildSpec<N>>
): Either.Either<{ readonly [K in N]: ReadonlyArray<XmlElement> }, DecodeError> => {
  if (!isBlank(el.text)) return Either.left(schemaError(`<${el.name}> holds elements, not text.`))
  const out: Record<string, Array<XmlElement>> = {}
  for (const s of spec) out[s.name] = []
  let at = 0
  for (const child of el.children) {
    while (at < spec.length && spec[at]!.name !== child.name) at++
    if (child.namespace !== el.namespace || at === spec.length) {
      const known = child.namespace === el.namespace && spec.some((s) => s.name === child.name)
      return Either.left(
        new DecodeError({
          reason: known ? "Schema" : "UnknownElement",
          message: known
            ? `<${child.name}> is out of order inside <${el.name}>.`
            : `<${el.name}> does not take a child <${child.name}> (namespace "${child.namespace}").`
        })
      )
    }
    const list = out[child.name]!
    if (list.length >= spec[at]!.max)
      return Either.left(schemaError(`<${el.name}> holds more than ${spec[at]!.max} <${child.name}>.`))
    list.push(child)
  }
  for (const s of spec)
    if (out[s.name]!.length < s.min)
      return Either.left(schemaError(`<${el.name}> needs at least ${s.min} <${s.name}>.`))
  return Either.right(out as unknown as { readonly [K in N]: ReadonlyArray<XmlElement> })
}

/** Text of a leaf element (no children); attributes are the caller's business. */
export const readText = (el: XmlElement): Either.Either<string, DecodeError> =>
  el.children.length === 0
    ? Either.right(el.text)
    : Either.left(schemaError(`<${el.name}> holds text only, not child elements.`))

/** Fails unless the element is empty: no children and no text, not even whitespace. */
export const expectEmpty = (el: XmlElement): Either.Either<void, DecodeError> =>
  el.children.length === 0 && el.text === "" ? Either.void : Either.left(schemaError(`<${el.name}> must be empty.`))

export const readBase64 = (text: string, field: string): Either.Either<Uint8Array, DecodeError> => {
  const bytes = base64Decode(text)
  return bytes === undefined
    ? Either.left(schemaError(`${field} is not canonical base64 (RFC 4648, padded, no whitespace).`))
    : Either.right(bytes)
}

export const readHex = (text: string, field: string): Either.Either<Uint8Array, DecodeError> => {
  const bytes = hexDecode(text)
  return bytes === undefined ? Either.left(schemaError(`${field} is not lower-case hex.`)) : Either.right(bytes)
}

export const readBigInt = (text: string, field: string, maxDigits?: number): Either.Either<bigint, DecodeError> => {
  const n = decimalBigInt(text, maxDigits)
  return n === undefined
    ? Either.left(schemaError(`${field} is not a decimal integer without sign or leading zeros.`))
    : Either.right(n)
}

export const readInt = (text: string, field: string, maxDigits?: number): Either.Either<number, DecodeError> => {
  const n = decimalInt(text, maxDigits)
  return n === undefined
    ? Either.left(schemaError(`${field} is not a decimal integer without sign or leading zeros.`))
    : Either.right(n)
}

/**
 * A decoder through `schema` (PROTOCOL.md §4: every message is decoded through its Schema before any
 * code acts on it). Build it once per schema, at module level: it is called per message.
 */
export const decodeWith = <A, I>(
  schema: Schema.Schema<A, I, never>,
  what: string
): ((input: unknown) => Either.Either<A, DecodeError>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (input) => Either.mapLeft(decode(input), (e) => schemaError(schemaSentence(what, e, input), e))
}
