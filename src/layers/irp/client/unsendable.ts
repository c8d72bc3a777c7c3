/**
 * What the IRP client sends must pass its schema too (PROTOCOL.md §4): a value the wire cannot carry (a
 * cast string, an oversized CSR) is refused here, unsent, and the connection goes on.
 *
 * Only the fields a caller supplies are checked, each request kind against its own schema rather than
 * the whole request union: the id is the client's own and well-formed by construction, so `<Ping>` and
 * `<Crl>` need no check at all and a `<Lookup>` costs one handle check (~50 ns through `isOf`, where a
 * Schema validation costs a microsecond or two).
 */
import { Either, ParseResult, Schema, Struct } from "effect"
import {
  Deregister,
  Enroll,
  type IrpRequest,
  type IrpRequestTag,
  Lookup,
  Register,
  Renew,
  Revoke,
  Status,
  Unwatch,
  Watch,
  WireAddresses,
  WireHost,
  WirePort
} from "../../../domain/irp/messages.js"
import { MAX_ADDRESSES_PER_DEVICE } from "../../../domain/irp/registry.js"
import { isOf } from "../../../domain/xml/is.js"
import { IrpClientError } from "../../../services/IrpClient.js"

type Check = (request: IrpRequest) => Either.Either<unknown, ParseResult.ParseError> | undefined

const isWireHost = isOf(WireHost)
const isWirePort = isOf(WirePort)

/**
 * `Schema.is(WireAddresses)` without its machinery: `isOf` leaves a list of structs to `Schema.is`, which
 * costs ~1 µs per registration (issue 15). The same rules: an array of 1 to `MAX_ADDRESSES_PER_DEVICE`
 * objects, each with its own `host` and `port` passing their schemas (other properties are ignored, as
 * `Schema.is` ignores them). A test holds the two together.
 */
const isWireAddresses = (u: unknown): boolean => {
  if (!Array.isArray(u) || u.length < 1 || u.length > MAX_ADDRESSES_PER_DEVICE) return false
  for (const a of u as ReadonlyArray<unknown>) {
    if (typeof a !== "object" || a === null || !Object.hasOwn(a, "host") || !Object.hasOwn(a, "port")) return false
    const { host, port } = a as { readonly host: unknown; readonly port: unknown }
    if (!isWireHost(host) || !isWirePort(port)) return false
  }
  return true
}

/** Quick tests of fields whose schema `isOf` would leave to `Schema.is`. */
const quickFields = new Map<Schema.Schema.Any, (u: unknown) => boolean>([[WireAddresses, isWireAddresses]])

/**
 * The caller's fields of one request kind: a quick test of each field through its own schema's filters
 * (`isOf`, or its entry in `quickFields`), and only when one fails the full validation, for its message.
 */
const callerFields = (schema: { readonly fields: Schema.Struct.Fields }): Check => {
  const fields = Struct.omit(schema.fields, "_tag", "id")
  const validate = Schema.validateEither(Schema.Struct(fields))
  const quick = Object.entries(fields).map(([name, field]) => {
    const is = Schema.isSchema(field)
      ? (quickFields.get(field) ?? isOf(field as Schema.Schema<unknown, unknown, never>))
      : undefined
    return (request: Record<string, unknown>) => is?.(request[name]) ?? false
  })
  return (request) => (quick.every((ok) => ok(request as never)) ? undefined : validate(request))
}

const validators: Partial<Record<IrpRequestTag, Check>> = {
  "irp.Enroll": callerFields(Enroll),
  "irp.Renew": callerFields(Renew),
  "irp.Register": callerFields(Register),
  "irp.Deregister": callerFields(Deregister),
  "irp.Lookup": callerFields(Lookup),
  "irp.Status": callerFields(Status),
  "irp.Revoke": callerFields(Revoke),
  "irp.Watch": callerFields(Watch),
  "irp.Unwatch": callerFields(Unwatch)
}

/** Why `request` must not be sent, or `undefined` when it may. */
export const refuseUnsendable = (request: IrpRequest): IrpClientError | undefined => {
  const validate = validators[request._tag]
  const checked = validate === undefined ? undefined : validate(request)
  return checked === undefined || Either.isRight(checked)
    ? undefined
    : new IrpClientError({
        reason: "bad_request",
        message: `The request was not sent: ${ParseResult.TreeFormatter.formatErrorSync(checked.left)}`,
        cause: checked.left
      })
}
