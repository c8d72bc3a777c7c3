/**
 * The agent's listening sockets, bound before anything else so that the Presence layer can register
 * the real ports (a port 0 in the configuration becomes the one the system chose). Default
 * `[::]:4605` and `0.0.0.0:4605` (PROTOCOL.md §2: port 4605, IPv6 and IPv4).
 */
import { Effect, Either, Layer } from "effect"
import { type Address, makeAddress } from "../../../domain/brands.js"
import { AgentListeners, type AgentListenersService } from "../../../services/AgentListeners.js"
import { Transport, type TransportError } from "../../../services/Transport.js"

export const DEFAULT_PORT = 4605

export const defaultListenAddresses: ReadonlyArray<Address> = [
  makeAddress("::", DEFAULT_PORT),
  makeAddress("0.0.0.0", DEFAULT_PORT)
]

export { AgentListeners, type AgentListenersService } from "../../../services/AgentListeners.js"

/**
 * Binds every address; the sockets close with the scope. With the defaults, a family the host lacks
 * (no IPv6, say) is skipped with a warning as long as the other one binds; addresses the user asked
 * for must all bind.
 */
export const make = (addresses?: ReadonlyArray<Address>) =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const wanted = addresses ?? defaultListenAddresses
    const tolerant = addresses === undefined
    const bound = yield* Effect.forEach(wanted, (address) =>
      tolerant ? Effect.either(transport.listen(address)) : Effect.map(transport.listen(address), Either.right)
    )
    const listeners = bound.flatMap((b) => (Either.isRight(b) ? [b.right] : []))
    const failures = bound.flatMap((b) => (Either.isLeft(b) ? [b.left] : []))
    if (listeners.length === 0 && failures[0] !== undefined) return yield* failures[0]
    for (const f of failures) yield* Effect.logWarning(`agent: not listening on one default address: ${f.message}`)
    return { listeners, addresses: listeners.map((l) => l.address) } satisfies AgentListenersService
  })

/** The listeners on `addresses` (default `[::]:4605` and `0.0.0.0:4605`). */
export const layer = (addresses?: ReadonlyArray<Address>): Layer.Layer<AgentListeners, TransportError, Transport> =>
  Layer.scoped(AgentListeners, make(addresses))
