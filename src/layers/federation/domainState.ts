/**
 * What the home IRP keeps per foreign domain D (PROTOCOL.md §22.3.3, §22.6): the federation session (one,
 * dialled once for all concurrent first callers, dropped when it dies and dialled again on the next
 * request), D's root as a session's `DomainInfo` gave it (used at most `rootTtlMs`, a change logged),
 * the breaker and the count of requests in progress.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Clock, Deferred, Effect, ExecutionStrategy, Exit, FiberId, Scope } from "effect"
import type { Handle } from "../../domain/brands.js"
import { hex } from "../../domain/bytes.js"
import * as Breaker from "../../domain/federation/breaker.js"
import type { FederationError } from "../../services/Federation.js"
import type { DomainInfoRecord, IrpClient, IrpClientError } from "../../services/IrpClient.js"
import { type DialParams, dialForeign } from "./dialForeign.js"
import { unavailable } from "./federationErrors.js"
import type { SharedWatch } from "./sharedWatch.js"

export interface Session {
  readonly client: IrpClient
  /** Closing it ends the session (and every shared watch on it). */
  readonly scope: Scope.CloseableScope
  /** One federation `Watch` per foreign handle, shared by its local watchers. */
  readonly watches: Map<Handle, SharedWatch>
  alive: boolean
}

const fingerprint = (der: Uint8Array): string => hex(sha256(der))

export class DomainState {
  breaker: Breaker.Breaker = Breaker.closedBreaker
  /** Requests to this domain in progress, waiting for the dial included. */
  outstanding = 0
  private current: Session | undefined = undefined
  private dialing: Deferred.Deferred<Session, FederationError> | undefined = undefined
  private cachedRoot: { readonly info: DomainInfoRecord; readonly at: number } | undefined = undefined
  private dropped = false

  constructor(
    readonly domain: string,
    private readonly layerScope: Scope.Scope,
    private readonly dialParams: Omit<DialParams, "domain">,
    private readonly rootTtlMs: number
  ) {}

  /** In use: the table drops idle domains first. */
  get busy(): boolean {
    return this.outstanding > 0 || this.dialing !== undefined || (this.current?.watches.size ?? 0) > 0
  }

  /** The open session, or a new one (a dial in progress is joined, not repeated). */
  session(): Effect.Effect<{ readonly session: Session; readonly reused: boolean }, FederationError> {
    return Effect.suspend(
      (): Effect.Effect<{ readonly session: Session; readonly reused: boolean }, FederationError> => {
        const current = this.current
        if (current?.alive === true) return Effect.succeed({ session: current, reused: true })
        const joined = this.dialing
        if (joined !== undefined) return Effect.map(Deferred.await(joined), (session) => ({ session, reused: false }))
        // Made and stored in one synchronous step, so concurrent first callers share it.
        const dialing = Deferred.unsafeMake<Session, FederationError>(FiberId.none)
        this.dialing = dialing
        return Effect.forkIn(this.dial(dialing), this.layerScope).pipe(
          Effect.zipRight(Deferred.await(dialing)),
          Effect.map((session) => ({ session, reused: false }))
        )
      }
    )
  }

  private dial(dialing: Deferred.Deferred<Session, FederationError>): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      const scope = yield* Scope.fork(self.layerScope, ExecutionStrategy.sequential)
      const dialled = yield* Effect.exit(dialForeign({ ...self.dialParams, domain: self.domain }, scope))
      if (Exit.isFailure(dialled)) {
        yield* Scope.close(scope, Exit.void)
        yield* Deferred.failCause(dialing, dialled.cause)
        return
      }
      if (self.dropped) {
        yield* Scope.close(scope, Exit.void)
        yield* Deferred.fail(
          dialing,
          unavailable(self.domain, `the session with the IRP of ${self.domain} was closed: too many foreign domains`)
        )
        return
      }
      const session: Session = { client: dialled.value.client, scope, watches: new Map(), alive: true }
      self.current = session
      yield* self.storeRoot(dialled.value.info)
      yield* Effect.logDebug(`federation session with ${self.domain} at ${dialled.value.address}`)
      yield* Deferred.succeed(dialing, session)
    }).pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          if (self.dialing === dialing) self.dialing = undefined
        }).pipe(Effect.zipRight(Exit.isInterrupted(exit) ? Deferred.interrupt(dialing) : Effect.void))
      )
    )
  }

  /** D's root: the cached one while fresh, else asked again on `session` (§22.3.3). */
  root(session: Session): Effect.Effect<DomainInfoRecord, IrpClientError> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const cached = this.cachedRoot
      if (cached !== undefined && now - cached.at < this.rootTtlMs) return Effect.succeed(cached.info)
      return Effect.tap(session.client.domainInfo(this.domain), (info) => this.storeRoot(info))
    })
  }

  private storeRoot(info: DomainInfoRecord): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (at) => {
      const previous = this.cachedRoot
      this.cachedRoot = { info, at }
      if (previous === undefined) return Effect.void
      const before = fingerprint(previous.info.root)
      const after = fingerprint(info.root)
      if (before === after) return Effect.void
      return Effect.logWarning(`the root of ${this.domain} changed: SHA-256 ${before} is now ${after}`).pipe(
        Effect.annotateLogs({ federation: this.domain, previousRoot: before, root: after })
      )
    })
  }

  /** `session` ended (or broke): forget it, close it; the next request dials again. */
  lose(session: Session): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!session.alive) return Effect.void
      session.alive = false
      if (this.current === session) this.current = undefined
      return Effect.asVoid(Effect.forkIn(Scope.close(session.scope, Exit.void), this.layerScope))
    })
  }

  /** The table dropped this domain: close its session. */
  drop(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.dropped = true
      return this.current === undefined ? Effect.void : this.lose(this.current)
    })
  }
}
