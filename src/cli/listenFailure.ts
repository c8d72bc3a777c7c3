/**
 * A port in use, the same from `sixchat agent` and `sixchat irp serve` (issue 13): exit 4 (local
 * state) and one sentence naming the address and what to do.
 */
import { formatAddress } from "../domain/brands.js"
import type { TransportError } from "../services/Transport.js"
import { CliFailure, ExitCode } from "./failure.js"

export const isAddressInUse = (e: unknown): e is TransportError =>
  typeof e === "object" &&
  e !== null &&
  (e as { _tag?: unknown })._tag === "TransportError" &&
  (e as { reason?: unknown }).reason === "AddressInUse"

export const addressInUse = (e: TransportError, who: "agent" | "IRP server") =>
  new CliFailure({
    code: ExitCode.State,
    message: `cannot listen on ${e.address === undefined ? "that address" : formatAddress(e.address)}: another program (another ${who}?) uses the port; stop it or choose another port with --listen HOST:PORT`
  })
