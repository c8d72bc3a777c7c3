/**
 * The agent's methods about other domains (PROTOCOL.md §22.3): `domainInfo` (what the home IRP relays
 * about a domain, and our pin of its CA) and `trustDomain` (`sixchat trust @D`: accept a held root, then
 * retry at once the peers of D with messages waiting).
 */
import { Effect } from "effect"
import type { DomainName, DomainPinResult } from "../../domain/agent/domainRoots.js"
import type { DomainInfoResult } from "../../domain/agent/rpc.js"
import { type Handle, handleDomain } from "../../domain/brands.js"
import { AgentError } from "../../services/Agent.js"
import type { AgentStoreService } from "../../services/AgentStore.js"
import type { DomainRootError, DomainRootsService } from "../../services/DomainRoots.js"

export interface DomainViewConfig {
  readonly self: Handle
  readonly store: AgentStoreService
  readonly roots: DomainRootsService | undefined
  readonly kick: (peer: Handle) => Effect.Effect<void>
}

const short = (fingerprint: string) => `${fingerprint.slice(0, 16)}…`

/** `DomainRootError` as the control socket reports it: `Refused` exits 1, `Unavailable` 3 (docs/CONTROL.md). */
export const domainError = (e: DomainRootError): AgentError =>
  new AgentError({
    reason:
      e.reason === "Unavailable"
        ? "Unavailable"
        : e.reason === "NotFound"
          ? "NotFound"
          : e.reason === "Storage"
            ? "Storage"
            : "Refused",
    message: e.message,
    cause: e
  })

const observedSentence = (domain: string, o: DomainPinResult): string => {
  switch (o._tag) {
    case "New":
      return `The CA of ${domain} is now pinned (first use).`
    case "Same":
      return `The CA of ${domain} is the one pinned.`
    case "Changed":
      return o.accepted
        ? `The CA of ${domain} changed (${short(o.change.previous)} -> ${short(o.change.current)}); the new one is pinned: compare safety numbers with your contacts there.`
        : `The CA of ${domain} changed (${short(o.change.previous)} -> ${short(o.change.current)}) and is held: nobody of ${domain} is accepted until you run \`sixchat trust @${domain}\`.`
  }
}

export const makeDomainView = (config: DomainViewConfig) => {
  const { self, store, roots, kick } = config
  const noIrp = new AgentError({
    reason: "Unavailable",
    message: "This agent has no IRP server to ask about other domains."
  })

  const info = (domain: DomainName): Effect.Effect<DomainInfoResult, AgentError> =>
    Effect.gen(function* () {
      if (roots === undefined) return yield* noIrp
      if (domain === handleDomain(self))
        return yield* new AgentError({
          reason: "BadRequest",
          message: `${domain} is your own domain: its CA is the ca.pem of your home, not pinned (sixchat domain show without --home shows its DNS records).`
        })
      const report = yield* Effect.mapError(roots.report(domain), domainError)
      return {
        domain,
        policy: report.policy,
        pin: report.pin ?? null,
        message: observedSentence(domain, report.observed)
      }
    })

  const trust = (domain: DomainName) =>
    Effect.gen(function* () {
      if (roots === undefined) return yield* noIrp
      const accepted = yield* Effect.mapError(roots.trust(domain), domainError)
      const waiting = yield* Effect.orElseSucceed(store.peersWithOutbox(), () => [])
      yield* Effect.forEach(
        waiting.filter((p) => handleDomain(p.peer) === domain),
        (p) => kick(p.peer),
        { discard: true }
      )
      return accepted
    })

  return { info, trust }
}
