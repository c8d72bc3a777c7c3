/**
 * What the home IRP makes of a failed request to a foreign IRP (PROTOCOL.md §22.5, §22.6): the foreign
 * IRP's `federation_refused` stays a refusal with its own sentence, its `not_found` stays `NotFound`, and
 * everything else (discovery, connection, handshake, timeout, a broken or misbehaving session) is
 * `Unavailable`, worded so the User Agent can show it as it is.
 */
import type { DiscoveryError } from "../../domain/federation/discovery.js"
import { FederationError } from "../../services/Federation.js"
import type { IrpClientError } from "../../services/IrpClient.js"

/** The foreign IRP's own sentence (`<Error>`'s text), without the client's "Lookup refused (code): ". */
const foreignSentence = (e: IrpClientError): string => e.serverMessage ?? e.message

export const fromClientError = (domain: string, e: IrpClientError): FederationError => {
  switch (e.reason) {
    case "federation_refused":
      return new FederationError({ reason: "Refused", domain, message: foreignSentence(e), cause: e })
    case "not_found":
      return new FederationError({ reason: "NotFound", domain, message: foreignSentence(e), cause: e })
    case "unauthorized":
      // It refused our public certificate (§22.2.5): it does not federate with us, or not with this chain.
      return new FederationError({
        reason: "Refused",
        domain,
        message: `the IRP of ${domain} refused this IRP's certificate: ${e.message}`,
        cause: e
      })
    case "Unreachable":
    case "Timeout":
    case "Channel":
      return unavailable(domain, `the IRP of ${domain} could not be reached: ${e.message}`, e)
    default:
      return unavailable(domain, `the IRP of ${domain} could not be used: ${e.message}`, e)
  }
}

export const fromDiscoveryError = (domain: string, e: DiscoveryError): FederationError =>
  unavailable(domain, `the IRP of ${domain} could not be found: ${e.message}`, e)

export const unavailable = (domain: string, message: string, cause?: unknown): FederationError =>
  new FederationError({ reason: "Unavailable", domain, message, cause })

export const refusedHere = (domain: string, message: string): FederationError =>
  new FederationError({ reason: "Refused", domain, message })

/** Did the session end with this failure (so it is dropped and the next call dials again)? */
export const sessionLost = (e: IrpClientError): boolean => e.reason === "Channel" || e.reason === "Unreachable"
