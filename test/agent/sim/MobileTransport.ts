/**
 * A mobile node on the SimNetwork: the same running agent keeps its Transport while the host it sits
 * on changes address (a laptop moving from one network to another). Moving binds every listener
 * again on the new host (same ports), resets every connection of the old address (its sockets die
 * with the interface), and from then on dials leave from the new address. An `accept` waiting on
 * the old listener carries on on the new one.
 */
import { Effect, ExecutionStrategy, Exit, Scope } from "effect"
import type { Address } from "../../../src/domain/brands.js"
import type { Connection, Listener, TransportError, TransportService } from "../../../src/services/Transport.js"
import type { SimNetwork } from "../../support/SimNetwork.js"

export interface MobileNode {
  readonly transport: TransportService
  /** The host address the node has now. */
  readonly host: () => string
  /** Moves the node to `host` (a fresh address on the network). */
  readonly moveTo: (host: string) => Effect.Effect<void>
}

class MobileListener implements Listener {
  closed = false
  constructor(
    readonly address: Address,
    public inner: Listener,
    public scope: Scope.CloseableScope,
    private readonly generation: () => number
  ) {}

  readonly accept: Effect.Effect<Connection, TransportError, Scope.Scope> = Effect.gen(this, function* () {
    for (;;) {
      const generation = this.generation()
      const exit = yield* Effect.exit(this.inner.accept)
      if (Exit.isSuccess(exit)) return exit.value
      // The listener was replaced by a move while we waited: wait on the new one.
      if (this.closed || generation === this.generation()) return yield* exit
    }
  })
}

export const make = (net: SimNetwork, initialHost: string): Effect.Effect<MobileNode, never, Scope.Scope> =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    let host = initialHost
    let node = net.transportFor(host)
    let generation = 0
    const listeners = new Set<MobileListener>()

    /** Listens on the current node in a scope of its own (a child of the node's). */
    const bind = (address: Address) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const inner = yield* Effect.tapError(Scope.extend(node.listen(address), scope), () =>
          Scope.close(scope, Exit.void)
        )
        return { inner, scope }
      })

    const transport: TransportService = {
      dial: (address, timeout) => Effect.suspend(() => node.dial(address, timeout)),
      listen: (address) =>
        Effect.acquireRelease(
          Effect.map(bind(address), ({ inner, scope }) => {
            const listener = new MobileListener(address, inner, scope, () => generation)
            listeners.add(listener)
            return listener
          }),
          (listener) =>
            Effect.suspend(() => {
              listener.closed = true
              listeners.delete(listener)
              return Scope.close(listener.scope, Exit.void)
            })
        )
    }

    const moveTo = (next: string) =>
      Effect.gen(function* () {
        const old = host
        node = net.transportFor(next)
        host = next
        for (const listener of listeners) {
          const { inner, scope } = yield* Effect.orDie(bind(listener.address))
          const previous = listener.scope
          listener.inner = inner
          listener.scope = scope
          generation++
          yield* Scope.close(previous, Exit.void)
        }
        yield* net.dropConnections(old)
      })

    return { transport, host: () => host, moveTo } satisfies MobileNode
  })
