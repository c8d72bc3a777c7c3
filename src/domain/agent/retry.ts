/**
 * Retrying delivery to a peer that cannot be reached (PROTOCOL.md §15: "the sender retries (backoff,
 * and at once when the IRP reports a new address for the peer)"; issue 4, section 2). The state is
 * per peer, since a connection serves the peer's whole outbox, and is stored so that the backoff
 * carries across agent restarts. Pure.
 */
import { Schema } from "effect"
import { Handle } from "../brands.js"
import { Millis } from "./messages.js"

export interface RetryPolicy {
  /** Delay after the first failure, ms (default 1 s). */
  readonly baseMs: number
  /** Largest delay, ms (default 5 minutes). */
  readonly maxMs: number
}

export const defaultRetryPolicy: RetryPolicy = { baseMs: 1000, maxMs: 5 * 60_000 }

/**
 * Delay before the next attempt after `failures` consecutive failures (>= 1): exponential
 * (`base * 2^(failures-1)`, capped at `max`) with "equal jitter": half the step is fixed, half is
 * drawn from `random` in [0, 1). The fixed half keeps a dead peer from being hammered; the random
 * half spreads the retries of agents that lost a shared network at the same moment.
 */
export const retryDelay = (policy: RetryPolicy, failures: number, random: number): number => {
  const exponent = Math.min(Math.max(failures, 1) - 1, 52)
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent)
  const r = Math.min(Math.max(random, 0), 1)
  return Math.floor(step / 2 + (step / 2) * r)
}

/** A peer with messages waiting, and where its retry schedule stands. */
export const OutboxPeer = Schema.Struct({
  peer: Handle,
  /** Messages waiting (queued or sent, not acknowledged). */
  pending: Schema.Int,
  /** `createdAt` of the oldest waiting message. */
  oldestAt: Millis,
  /** Consecutive failed delivery attempts (0 after an `<Ack>` or `resetRetry`). */
  failures: Schema.Int,
  /** Do not try before this time (`null`: at once). */
  nextAttemptAt: Schema.NullOr(Millis),
  lastError: Schema.NullOr(Schema.String)
})
export type OutboxPeer = typeof OutboxPeer.Type

/** The stored retry state of one peer. */
export const RetryState = Schema.Struct({
  peer: Handle,
  failures: Schema.Int,
  nextAttemptAt: Schema.NullOr(Millis),
  lastError: Schema.NullOr(Schema.String),
  updatedAt: Millis
})
export type RetryState = typeof RetryState.Type
