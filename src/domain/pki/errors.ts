/**
 * The one error of the certificate authority (PROTOCOL.md §13, IRP issue section 1). Pure.
 */
import { Data } from "effect"

export type CaFailure =
  | "BadCsr" // not a PKCS#10 request we can read (or too large)
  | "CsrSignature" // the request's signature does not verify with its own key: no proof of possession
  | "CsrHandleMismatch" // the request names another handle (CN / SAN rfc822Name), or a handle outside the domain
  | "KeyPolicy" // the key type or size is not accepted
  | "BadParameter" // a domain, server name, validity, serial or CRL field the caller passed is invalid
  | "Io" // reading or writing the domain directory failed
  | "Exists" // refusing to overwrite an existing directory or key file
  | "Internal" // a bug or an unexpected library failure

export class CaError extends Data.TaggedError("CaError")<{
  readonly reason: CaFailure
  /** One sentence that says what went wrong and, when the user can act, what to do. */
  readonly message: string
  readonly cause?: unknown
}> {}
