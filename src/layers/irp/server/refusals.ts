/**
 * How a failure becomes an answer: a `Refused` carries the `<Error>` code a client acts on, and registry,
 * CA and CRL failures map to one, storage and signing failures to `internal` (their details are logged).
 */
import { Data, Effect } from "effect"
import { type ErrorCode, type IrpRequest, type IrpServerMessage, irpError } from "../../../domain/irp/messages.js"
import type { RegistryError } from "../../../domain/irp/registry.js"
import type { CaError } from "../../../domain/pki/errors.js"
import type { CrlTooLarge } from "./crl.js"

/** A refusal on its way to becoming an `<Error>` answer. */
export class Refused extends Data.TaggedError("Refused")<{
  readonly code: ErrorCode
  readonly message: string
  readonly retryAfterMs?: number | undefined
  /** Logged, never sent. */
  readonly cause?: unknown
}> {}

/** A request about a handle of another domain (PROTOCOL.md §17): its own domain's server answers it. */
export const notOurs = (domain: string, handle: string) =>
  new Refused({
    code: "not_found",
    message: `${handle} is not a handle of ${domain}: ask the IRP server of its own domain.`
  })

const UNAVAILABLE = "The registry is unavailable right now; try again in a moment."

export const fromRegistry = (e: RegistryError): Refused => {
  switch (e.reason) {
    case "StaleSequence":
      return new Refused({ code: "stale_sequence", message: e.message })
    case "LeaseTooShort":
      return new Refused({ code: "lease_too_short", message: e.message })
    case "LeaseTooLong":
      return new Refused({ code: "lease_too_long", message: e.message })
    case "TooManyDevices":
      return new Refused({ code: "too_many_devices", message: e.message })
    case "TokenNotFound":
    case "TokenExpired":
    case "TokenUsed":
    case "TokenWrongHandle":
      return new Refused({ code: "token_invalid", message: e.message })
    case "NotFound":
      return new Refused({ code: "not_found", message: e.message })
    case "Conflict":
      return new Refused({ code: "conflict", message: e.message })
    case "Storage":
      return new Refused({ code: "internal", message: UNAVAILABLE, cause: e })
  }
}

export const fromCa = (e: CaError): Refused =>
  e.reason === "BadCsr" || e.reason === "CsrSignature" || e.reason === "CsrHandleMismatch" || e.reason === "KeyPolicy"
    ? new Refused({ code: "csr_invalid", message: e.message })
    : new Refused({ code: "internal", message: "The certificate authority failed; try again later.", cause: e })

export const fromCrl = (e: RegistryError | CaError | CrlTooLarge): Refused =>
  e._tag === "RegistryError"
    ? fromRegistry(e)
    : e._tag === "CaError"
      ? fromCa(e)
      : new Refused({ code: "internal", message: "The CRL is too large to send.", cause: e })

export const registry = <A>(effect: Effect.Effect<A, RegistryError>) => Effect.mapError(effect, fromRegistry)

/** The `<Error>` for a refusal. */
export const refusalAnswer = (id: IrpRequest["id"] | undefined, r: Refused): IrpServerMessage =>
  irpError(id, r.code, r.message, r.retryAfterMs)
