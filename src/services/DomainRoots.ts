/**
 * DomainRoots: the User Agent's pins of foreign domains' roots (PROTOCOL.md §22.3.3) and the way to get
 * one (its home IRP relays `DomainInfo`, §22.4). The agent's CertVerifier asks it for the anchor of a
 * foreign handle (§22.3.2: the anchor is chosen by the handle's domain); the Directory hands it every
 * root a foreign `LookupResult` carries. Implemented by `layers/agent/irp/DomainRootsLive`.
 */
import { Context, Data, type Effect } from "effect"
import type { DomainKeyChange, DomainName, DomainPin, DomainPinResult } from "../domain/agent/domainRoots.js"
import type { FederationMode } from "../domain/federation/policy.js"
import type { DomainRoot } from "./IrpClient.js"

export class DomainRootError extends Data.TaggedError("DomainRootError")<{
  /**
   * `Refused`: the home IRP refuses (federation policy, `federation_refused`), or the root it relayed is
   * not fit for the domain; `Unavailable`: no answer (IRP or the foreign domain unreachable); `Held`: the
   * domain's root changed and waits for `sixchat trust @D` (strict mode); `NotFound`: nothing to trust.
   */
  readonly reason: "Refused" | "Unavailable" | "Held" | "NotFound" | "Storage"
  /** One sentence: what went wrong and what to do next. */
  readonly message: string
  readonly cause?: unknown
}> {}

/** What the home IRP says about a domain, with this agent's pin of it (`sixchat domain show D`). */
export interface DomainReport {
  readonly domain: DomainName
  readonly policy: FederationMode
  /** The pin after this answer was observed (`undefined` only if the store failed to keep it). */
  readonly pin: DomainPin | undefined
  readonly observed: DomainPinResult
}

export interface DomainRootsService {
  readonly pinned: (domain: DomainName) => Effect.Effect<DomainPin | undefined, DomainRootError>
  /** A root the home IRP relayed for `domain` (already checked, §22.3.2): pin on first use, or a change. */
  readonly observe: (domain: DomainName, root: DomainRoot) => Effect.Effect<DomainPinResult, DomainRootError>
  /**
   * The DER of the root to verify handles of `domain` under: the pin, or (first use) fetched through the
   * home IRP and pinned. `Held` while a change waits for the user.
   */
  readonly rootFor: (domain: DomainName) => Effect.Effect<Uint8Array, DomainRootError>
  /**
   * Asks the home IRP again (at most once a minute per domain): the new root's DER when the pin moved
   * to another root (a peer presented a chain the old pin refused), else `undefined`.
   */
  readonly refresh: (domain: DomainName) => Effect.Effect<Uint8Array | undefined, DomainRootError>
  /** `DomainInfo` relayed by the home IRP, observed like any root it relays. */
  readonly report: (domain: DomainName) => Effect.Effect<DomainReport, DomainRootError>
  /** `sixchat trust @D`: accepts the held root. */
  readonly trust: (domain: DomainName) => Effect.Effect<DomainKeyChange, DomainRootError>
}

export class DomainRoots extends Context.Tag("sixchat/agent/DomainRoots")<DomainRoots, DomainRootsService>() {}
