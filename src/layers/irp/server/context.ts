/**
 * What the request handlers run with: the server's shared parts (`ServerContext`) and the authorised
 * connection a request came on (`ConnectionContext`).
 */
import type { FederationMode, FederationPolicy } from "../../../domain/federation/policy.js"
import type { Caller } from "../../../domain/irp/access.js"
import type { FederationService } from "../../../services/Federation.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import type { CertificateAuthorityService } from "../../ca/CertificateAuthority.js"
import type { CertificateCopies } from "./certificateCopies.js"
import type { CrlSource } from "./crl.js"
import type { AnswerCache } from "./lookup.js"
import type { Revocations } from "./revocations.js"
import type { ConnectionWatches } from "./watches.js"

export interface ServerContext {
  readonly registry: IrpRegistryService
  readonly ca: CertificateAuthorityService
  /** The domain this server is authoritative for. */
  readonly domain: string
  /** The domain's root certificate (`ca.pem`, DER): what `DomainInfo` publishes (PROTOCOL.md §22.3.1). */
  readonly rootCertificate: Uint8Array
  /** `irp.json`'s federation mode (§22.5), which `DomainInfo` states. */
  readonly federation: FederationMode
  /** The whole policy (§22.5): which domains this IRP relays to and answers. */
  readonly federationPolicy: FederationPolicy
  /**
   * Where requests for other domains go (§22.4): the `Federation` service, when the server has one;
   * without it they are refused `federation_refused`.
   */
  readonly relay?: FederationService | undefined
  /** What follows a client certificate in its chain (the issuing CA). */
  readonly issuerChain: ReadonlyArray<Uint8Array>
  readonly revocations: Revocations
  /** Lookup answers (see `lookup.ts`); kept up to date by the registry's `onChange`. */
  readonly answers: AnswerCache
  /** One DER copy per certificate serial, shared by the answers (`certificateCopies.ts`). */
  readonly certificates: CertificateCopies
  readonly crl: CrlSource
  /** Handles that may revoke anyone's certificate. */
  readonly administrators: ReadonlySet<string>
}

export interface ConnectionContext {
  readonly caller: Caller
  readonly watches: ConnectionWatches
}
