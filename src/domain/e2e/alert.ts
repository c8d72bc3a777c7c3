/**
 * Alerts (PROTOCOL.md §12) read from the wire in one place: the channel's control path, the handshake's
 * plaintext fallback (a peer that refused our Hello had no keys yet) and the responder's late alert
 * under its handshake key (§12.2) all go through here. Pure.
 */
import { Either } from "effect"
import { parseXml } from "../xml/parse.js"
import { type Alert, E2E_NAMESPACE } from "./messages.js"
import { e2eFromElement } from "./xml.js"

/** The `<Alert>` these bytes carry, or `undefined` when they are anything else (never a failure). */
export const alertIn = (bytes: Uint8Array): Alert | undefined => {
  const parsed = parseXml(bytes)
  if (Either.isLeft(parsed) || parsed.right.name !== "Alert" || parsed.right.namespace !== E2E_NAMESPACE)
    return undefined
  const alert = e2eFromElement(parsed.right)
  return Either.isRight(alert) && alert.right._tag === "e2e.Alert" ? alert.right : undefined
}

/** `code (description)`: how an alert from the peer is reported (its description is untrusted text, §5.2.1). */
export const describeAlert = (alert: Alert): string =>
  `${alert.code}${alert.description ? ` (${alert.description})` : ""}`
