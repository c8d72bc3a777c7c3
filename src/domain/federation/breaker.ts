/**
 * The circuit breaker an IRP keeps per foreign domain (PROTOCOL.md §22.6): after `failures` consecutive
 * failures of that domain's IRP (unreachable, handshake refused, timeout, broken session) it stays open
 * for `openMs`, and every request to that domain then fails at once with `federation_unavailable`
 * instead of costing its user the timeout again. Pure: the time comes in as a value.
 *
 * When the period is over the breaker is half-open: requests go out again, and the first outcome
 * decides: a success closes it, a failure opens it for another period at once (not after three more).
 */

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker (§22.6: 3). */
  readonly failures: number
  /** How long it stays open, ms (§22.6: 30 s). */
  readonly openMs: number
}

export const defaultBreakerPolicy: BreakerPolicy = { failures: 3, openMs: 30_000 }

export type Breaker =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen" }

export const closedBreaker: Breaker = { _tag: "Closed", failures: 0 }

export type Admission =
  | { readonly _tag: "Allowed"; readonly breaker: Breaker }
  | { readonly _tag: "Refused"; readonly until: number }

/** May a request go out at `now` (epoch ms)? Gives the state to keep when it may. */
export const admit = (breaker: Breaker, now: number): Admission => {
  if (breaker._tag !== "Open") return { _tag: "Allowed", breaker }
  return now < breaker.until
    ? { _tag: "Refused", until: breaker.until }
    : { _tag: "Allowed", breaker: { _tag: "HalfOpen" } }
}

/** The foreign IRP answered (an answer, a refusal or `not_found` alike): the breaker closes. */
export const succeeded = (_breaker: Breaker): Breaker => closedBreaker

/** The foreign IRP failed at `now`. */
export const failed = (breaker: Breaker, now: number, policy: BreakerPolicy): Breaker => {
  switch (breaker._tag) {
    case "Open":
      // A request admitted before the breaker opened, failing late: the period already runs.
      return breaker
    case "HalfOpen":
      return { _tag: "Open", until: now + policy.openMs }
    case "Closed":
      return breaker.failures + 1 >= policy.failures
        ? { _tag: "Open", until: now + policy.openMs }
        : { _tag: "Closed", failures: breaker.failures + 1 }
  }
}
