/**
 * The agent's listening sockets, bound before anything else so that the Presence layer can register
 * the real ports (a port 0 in the configuration becomes the one the system chose). Default
 * `[::]:4605` and `0.0.0.0:4605` (brief section 1: port 4605, IPv6 and IPv4).
 */
import { Context, Effect, Layer } from "effect"
import { type Address, makeAddress } from "../../../domain/brands.js"
import { type Listener, Transport, type TransportError } from "../../../services/Transport.js"

export const DEFAULT_PORT = 4605

export const defaultListenAddresses: ReadonlyArray<Address> = [
  makeAddress("::", DEFAULT_PORT),
  makeAddress("0.0.0.0", DEFAULT_PORT)
]

export interface AgentListenersService {
  readonly listeners: ReadonlyArray<Listener>
  /** The bound addresses, in the order configured. */
  readonly addresses: ReadonlyArray<Address>
}

export class AgentListeners extends Context.Tag("sixchat/AgentListeners")<AgentListeners, AgentListenersService>() {}

/** Binds every address; the sockets close with the scope. */
export const make = (addresses: ReadonlyArray<Address> = defaultListenAddresses) =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const listeners = yield* Effect.forEach(addresses, (address) => transport.listen(address))
    return { listeners, addresses: listeners.map((l) => l.address) } satisfies AgentListenersService
  })

export const layer = (
  addresses: ReadonlyArray<Address> = defaultListenAddresses
): Layer.Layer<AgentListeners, TransportError, Transport> => Layer.scoped(AgentListeners, make(addresses))
