/**
 * Federation: what a domain's IRP asks of other domains' IRPs on its users' behalf (PROTOCOL.md §22.4),
 * server to server. The live layer discovers the foreign IRP (§21), keeps one authenticated session per
 * foreign domain (§22.2: the Web PKI, the name `irp.<domain>`, `<Trust>public</Trust>`), applies the
 * outbound side of the federation policy (§22.5) and the bounds of §22.6 (timeouts, outstanding
 * requests, sessions, circuit breaker). Handlers of `irp serve` call it for foreign handles and domains.
 */
import { Context, Data, type Effect, type Scope, type Stream } from "effect"
import type { Handle } from "../domain/brands.js"
import type { SerialHex } from "../domain/irp/certificates.js"
import type { CertificateStatusRecord, DomainInfoRecord, IdentityChange, IdentityRecord } from "./IrpClient.js"

export type FederationFailure =
  | "Refused" // a policy, ours or theirs, does not allow it: `federation_refused`
  | "Unavailable" // discovery, connection, handshake or the request failed or timed out, or the circuit is open: `federation_unavailable`
  | "NotFound" // the foreign IRP says so (a relayed `not_found`)

export class FederationError extends Data.TaggedError("FederationError")<{
  readonly reason: FederationFailure
  /** The foreign domain. */
  readonly domain: string
  /** One sentence naming the domain, fit to relay to the User Agent ("other.net does not accept federation from example.org"). */
  readonly message: string
  readonly cause?: unknown
}> {}

export interface FederationService {
  /** A foreign handle's `LookupResult`, with the domain's root in `domainRoot` (§22.3.3). */
  readonly lookup: (handle: Handle) => Effect.Effect<IdentityRecord, FederationError>
  /** A certificate status at `domain`'s IRP (staple when asked: the UA verifies it under that domain's root). */
  readonly status: (
    domain: string,
    serial: SerialHex,
    options?: { readonly staple?: boolean | undefined }
  ) => Effect.Effect<CertificateStatusRecord, FederationError>
  /** `domain`'s `DomainInfoResult` over an authenticated federation session (cached up to 1 hour, §22.3.3). */
  readonly domainInfo: (domain: string) => Effect.Effect<DomainInfoRecord, FederationError>
  /**
   * Watches foreign handles (one federation `Watch` per handle, shared by every local watcher); the stream
   * ends with a failure when the federation session is lost.
   */
  readonly watch: (
    handles: ReadonlyArray<Handle>
  ) => Effect.Effect<Stream.Stream<IdentityChange, FederationError>, FederationError, Scope.Scope>
}

export class Federation extends Context.Tag("sixchat/Federation")<Federation, FederationService>() {}
