/**
 * Turning what can go wrong on the client side of port 4604 into `IrpClientError`s whose message says
 * what to do next (IRP issue section 4: "every command's failure is one clear line").
 */
import { type Address, formatAddress } from "../../../domain/brands.js"
import type { IrpError } from "../../../domain/irp/messages.js"
import { IrpClientError } from "../../../services/IrpClient.js"
import type { ChannelError } from "../../../services/SecureChannel.js"
import type { TransportError } from "../../../services/Transport.js"

export interface Endpoint {
  readonly address: Address
  readonly serverName: string
}

export const where = (e: Endpoint) => `the IRP server ${e.serverName} at ${formatAddress(e.address)}`

/** The server refused a request with `<Error>`: its message already says what to do. */
export const refused = (request: string, error: IrpError): IrpClientError =>
  new IrpClientError({
    reason: error.code,
    message: `${request} refused (${error.code}): ${error.message}`,
    retryAfterMs: error.retryAfterMs,
    serverMessage: error.message
  })

export const protocolError = (endpoint: Endpoint, detail: string, cause?: unknown): IrpClientError =>
  new IrpClientError({
    reason: "Protocol",
    message: `${where(endpoint)} broke the protocol (${detail}); report this to its operator.`,
    cause
  })

export const timedOut = (endpoint: Endpoint, what: string, ms: number): IrpClientError =>
  new IrpClientError({
    reason: "Timeout",
    message: `${where(endpoint)} did not ${what} within ${ms / 1000} s: it may be overloaded or unreachable; try again later.`
  })

/** A channel failure while connecting or afterwards. */
export const channelFailure = (endpoint: Endpoint, e: ChannelError): IrpClientError => {
  const server = where(endpoint)
  switch (e.reason) {
    case "Transport": {
      const transport = e.cause as TransportError | undefined
      return transport?.reason === "Reset" || transport?.reason === "Io"
        ? new IrpClientError({ reason: "Channel", message: `The connection to ${server} broke: try again.`, cause: e })
        : new IrpClientError({
            reason: "Unreachable",
            message: `Cannot reach ${server}: ${transport?.message ?? e.message}`,
            cause: e
          })
    }
    case "HandshakeTimeout":
      return new IrpClientError({
        reason: "Timeout",
        message: `${server} did not complete the handshake in time: check the address and port (the IRP port is 4604).`,
        cause: e
      })
    case "Handshake":
      return new IrpClientError({
        reason: "Channel",
        message:
          e.alert === "unknown_ca" ||
          e.alert === "bad_certificate" ||
          e.alert === "identity_mismatch" ||
          e.alert === "certificate_expired" ||
          e.alert === "certificate_revoked"
            ? `${server} presented a certificate we do not accept (${e.message}): check that --trust is that domain's ca.pem and that the server name is right.`
            : `The handshake with ${server} failed (${e.message}).`,
        cause: e
      })
    case "PeerAlert":
      if (e.alert === "certificate_revoked")
        return new IrpClientError({
          reason: "unauthorized",
          message: `${server} refused our certificate: it has been revoked. Enrol again with a new token from the operator.`,
          cause: e
        })
      if (e.alert === "certificate_expired")
        return new IrpClientError({
          reason: "unauthorized",
          message: `${server} refused our certificate: it has expired. Enrol again with a new token from the operator.`,
          cause: e
        })
      if (e.alert === "unknown_ca" || e.alert === "bad_certificate")
        return new IrpClientError({
          reason: "unauthorized",
          message: `${server} refused our certificate (${e.alert}): it was not issued by this domain's IRP server.`,
          cause: e
        })
      return new IrpClientError({
        reason: "Channel",
        message: `${server} ended the session: ${e.alert ?? e.message}.`,
        cause: e
      })
    case "Decode":
    case "UnexpectedMessage":
    case "Frame":
    case "BadRecordMac":
      return protocolError(endpoint, e.message, e)
    default:
      return new IrpClientError({
        reason: "Channel",
        message: `The connection to ${server} ended (${e.message}): reconnect.`,
        cause: e
      })
  }
}
