/**
 * Maps Node socket errors onto `TransportError` reasons, with messages that say what to do next.
 */
import { type Address, formatAddress } from "../../domain/brands.js"
import { TransportError } from "../../services/Transport.js"

export type Phase = "dial" | "listen" | "stream"

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** The `TransportError` for a Node error met while dialing, binding, or on an established stream. */
export const fromNodeError = (cause: unknown, address: Address | undefined, phase: Phase): TransportError => {
  const code = codeOf(cause)
  const where = address === undefined ? "the peer" : formatAddress(address)
  const detail = cause instanceof Error ? cause.message : String(cause)
  switch (code) {
    case "ECONNREFUSED":
      return new TransportError({
        reason: "ConnectRefused",
        address,
        message: `Connection to ${where} was refused: nothing listens there. Check the address and that the peer is running.`,
        cause
      })
    case "EADDRINUSE":
      return new TransportError({
        reason: "AddressInUse",
        address,
        message: `Cannot listen on ${where}: the address is already in use. Stop the other listener or choose another port.`,
        cause
      })
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      return new TransportError({
        reason: "Reset",
        address,
        message: `The connection with ${where} was reset by the peer (${code}).`,
        cause
      })
    case "ETIMEDOUT":
      return phase === "dial"
        ? new TransportError({
            reason: "ConnectTimeout",
            address,
            message: `Connecting to ${where} timed out. The peer may be offline or behind a firewall.`,
            cause
          })
        : new TransportError({
            reason: "Reset",
            address,
            message: `The connection with ${where} timed out and was dropped by the operating system.`,
            cause
          })
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new TransportError({
        reason: "Unreachable",
        address,
        message: `${where} is unreachable (${code}). Check the host name and the network.`,
        cause
      })
    default:
      return new TransportError({
        reason: "Io",
        address,
        message: `Socket error ${phase === "listen" ? "binding" : phase === "dial" ? "connecting to" : "talking to"} ${where}: ${detail}`,
        cause
      })
  }
}

export const connectTimedOut = (address: Address, ms: number): TransportError =>
  new TransportError({
    reason: "ConnectTimeout",
    address,
    message: `Connecting to ${formatAddress(address)} took longer than ${ms} ms. The peer may be offline or behind a firewall.`
  })

export const destroyedLocally = (address: Address): TransportError =>
  new TransportError({
    reason: "Reset",
    address,
    message: `The connection with ${formatAddress(address)} was destroyed on this side; open a new one.`
  })

export const closedByPeer = (address: Address): TransportError =>
  new TransportError({
    reason: "Reset",
    address,
    message: `The connection with ${formatAddress(address)} closed without a clean end of stream.`
  })

export const writeAfterEnd = (address: Address): TransportError =>
  new TransportError({
    reason: "Io",
    address,
    message: `Cannot write to ${formatAddress(address)}: this side already ended the stream.`
  })

export const listenerClosed = (address: Address): TransportError =>
  new TransportError({
    reason: "Io",
    address,
    message: `The listener on ${formatAddress(address)} is closed; no more connections will be accepted.`
  })
