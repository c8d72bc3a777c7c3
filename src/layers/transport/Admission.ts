/**
 * The accept loop of a server (User Agent listener, IRP), with fair admission of connections that
 * have not finished their handshake (issue 10 §4; the policy is `domain/admission.ts`, the limits
 * PROTOCOL.md §15.7 and §17.1.7).
 *
 * The loop never waits for a slot before accepting: every connection is taken from the kernel at
 * once, so neither the kernel's backlog nor the transport's pending queue can fill up with a flooder's
 * idle connections ahead of a legitimate peer. Each accepted connection is then admitted or refused
 * (closed at once, with a reset: it never sent anything we owe an answer to), and an admitted one runs
 * `handle` in its own fiber and scope from the moment of accept, so the handshake deadline
 * (PROTOCOL.md §6.7, the channel's Watchdog) counts from accept too, also for a connection that never
 * sends a byte. `handle` calls `established` once the peer is authenticated, which gives the
 * handshake slot back; the slot is also given back when `handle` ends. A connection evicted for a
 * newcomer (longest queue drop) is reset and its fiber interrupted.
 */
import { Effect, ExecutionStrategy, Exit, Fiber, Scope } from "effect"
import { AdmissionTable } from "../../domain/admission.js"
import { formatAddress } from "../../domain/brands.js"
import { sourceKey } from "../../domain/sourceKey.js"
import type { Connection, Listener } from "../../services/Transport.js"

export interface AdmissionPolicy {
  /** Connections in their handshake at once, in all (the agent's default 64, the IRP's 256). */
  readonly maxHandshakes: number
  /** Connections in their handshake at once from one source: an IPv4 address or an IPv6 /64. */
  readonly maxHandshakesPerSource: number
}

/**
 * Runs one connection, held by `scope`. `established` frees its handshake slot (idempotent). When the
 * handler fails or is interrupted the gate closes `scope`; when it succeeds the scope is the handler's
 * (closed by it, or handed on to a session that outlives it).
 */
export type ConnectionHandler = (
  connection: Connection,
  scope: Scope.CloseableScope,
  established: Effect.Effect<void>
) => Effect.Effect<void, unknown>

interface Held {
  readonly connection: Connection
  fiber: Fiber.RuntimeFiber<void> | undefined
}

export interface Gate {
  /** Accepts on `listener` until it fails (closed); each connection in a fiber of the current scope. */
  readonly serve: (listener: Listener, handle: ConnectionHandler) => Effect.Effect<void, never, Scope.Scope>
  /** Connections in their handshake now. */
  readonly handshakes: Effect.Effect<number>
}

/** One gate per server: its table is shared by all of the server's listeners. */
export const make = (policy: AdmissionPolicy): Gate => {
  const table = new AdmissionTable<Held>({ perSource: policy.maxHandshakesPerSource, total: policy.maxHandshakes })

  const evict = (held: Held) =>
    Effect.zipRight(held.connection.destroy, held.fiber === undefined ? Effect.void : Fiber.interruptFork(held.fiber))

  /** Admits one accepted connection (its scope holds it) and starts its fiber, or refuses it. */
  const admit = (connection: Connection, scope: Scope.CloseableScope, handle: ConnectionHandler, outer: Scope.Scope) =>
    Effect.gen(function* () {
      const source = sourceKey(connection.remote.host)
      const held: Held = { connection, fiber: undefined }
      const admission = table.admit(source, held)
      if (admission._tag === "Refused") {
        yield* connection.destroy
        yield* Scope.close(scope, Exit.void)
        return yield* Effect.logDebug("connection refused: too many handshakes from its source").pipe(
          Effect.annotateLogs({ remote: formatAddress(connection.remote), held: admission.held })
        )
      }
      if (admission.evicted !== undefined) {
        yield* evict(admission.evicted)
        yield* Effect.logDebug("handshake slot taken from the source holding the most").pipe(
          Effect.annotateLogs({ evicted: formatAddress(admission.evicted.connection.remote) })
        )
      }
      const established = Effect.sync(() => void table.remove(source, held))
      // Interruptible again (the loop forks this under `uninterruptible`): eviction and shutdown interrupt it.
      held.fiber = yield* Effect.forkIn(
        Effect.interruptible(handle(connection, scope, established)).pipe(
          Effect.onExit((exit) =>
            Exit.isSuccess(exit) ? established : Effect.zipRight(established, Scope.close(scope, Exit.void))
          ),
          Effect.ignore
        ),
        outer
      )
    })

  const serve = (listener: Listener, handle: ConnectionHandler) =>
    Effect.gen(function* () {
      const outer = yield* Effect.scope
      while (true) {
        // A child of the server's scope: closing the server closes every connection it still holds.
        const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const accepted = yield* Effect.exit(Scope.extend(listener.accept, scope))
        if (Exit.isFailure(accepted)) {
          yield* Scope.close(scope, Exit.void)
          return
        }
        // Uninterruptible between accept and fork: the connection is either owned by its fiber or closed.
        yield* Effect.uninterruptible(admit(accepted.value, scope, handle, outer))
      }
    })

  return { serve, handshakes: Effect.sync(() => table.size) }
}
