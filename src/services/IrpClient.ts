/**
 * IrpClient: one secure channel to an IRP server (PROTOCOL.md §17) with a typed method per request.
 * Requests are multiplexed by id over the channel; each fails with an `IrpClientError` whose message says
 * what to do next. `IrpClients.connect` dials; the client lives until its scope closes.
 */
import { Context, Data, type Duration, type Effect, type Scope, type Stream } from "effect"
import type { Address, Handle } from "../domain/brands.js"
import type { ParsedCertificate } from "../domain/cert/parse.js"
import type { VerifiedCertificate } from "../domain/cert/verify.js"
import type { FederationMode } from "../domain/federation/policy.js"
import type { RevocationReason, SerialHex } from "../domain/irp/certificates.js"
import type { BindingInfo, ErrorCode, IdentityStatus, WireAddress } from "../domain/irp/messages.js"
import type { DeviceId, Seq } from "../domain/irp/registry.js"

export type IrpClientFailure =
  | ErrorCode // the server refused the request (`<Error code>`)
  | "Unreachable" // nothing answered at the address (refused, unreachable, DNS)
  | "Channel" // the secure channel failed: the server's certificate was refused, or the connection broke
  | "Timeout" // no answer (or no handshake) within the limit
  | "Protocol" // the server sent something the protocol does not allow
  | "Identity" // our own key and certificate do not fit together
  | "WrongDomain" // `DomainInfo` answered for another domain than the one asked about
  | "DomainRootRefused" // `DomainInfo`'s root is not a CA that can vouch for that domain alone (§22.3.2)

export class IrpClientError extends Data.TaggedError("IrpClientError")<{
  readonly reason: IrpClientFailure
  /** One sentence: what went wrong and what to do next. */
  readonly message: string
  /** With `rate_limited`: when to try again. */
  readonly retryAfterMs?: number | undefined
  /** When the server refused with `<Error>`: its text as it wrote it (the sentence a user may be shown). */
  readonly serverMessage?: string | undefined
  readonly cause?: unknown
}> {}

export interface IrpConnectOptions {
  /** Where the IRP server listens (default port 4604). */
  readonly address: Address
  /** The DNS name its certificate must carry (SAN dNSName, EKU serverAuth); default `irp.<domain>`. */
  readonly serverName?: string | undefined
  /** The domain; used for the default server name. One of `serverName` / `domain` is required. */
  readonly domain?: string | undefined
  /** Our key (PKCS#8 DER) and certificate chain (DER, leaf first); `null` to connect anonymously (enrolment). */
  readonly identity: { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> } | null
  /** Per request (default 10 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** TCP connect plus handshake (default 10 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * An IRP dialing another domain's IRP (PROTOCOL.md §22.2.3): ask for its public chain with
   * `<Trust>public</Trust>`. The verifier in context must then hold the public anchors (§22.2.4).
   */
  readonly publicChain?: boolean | undefined
  /** A `<Ping>` this often keeps the connection inside both sides' idle limit (default 60 s). */
  readonly keepAlive?: Duration.DurationInput | undefined
}

export interface IssuedCertificate {
  /** DER, leaf first: store it with the key and present it from now on. */
  readonly chain: ReadonlyArray<Uint8Array>
  readonly serial: SerialHex
  /** Epoch ms. */
  readonly notAfter: number
}

export interface Registration {
  /** Every unexpired binding of ours, this device's included. */
  readonly bindings: ReadonlyArray<BindingInfo>
  /** The source address the server saw. */
  readonly observed: WireAddress | undefined
  /** The observed host is none of the registered ones: peers may not reach us at those addresses. */
  readonly natSuspected: boolean
}

export interface IdentityRecord {
  readonly handle: Handle
  readonly status: IdentityStatus
  /** The current (or, when revoked, the revoked) certificate chain, leaf first; empty when unknown. */
  readonly chain: ReadonlyArray<Uint8Array>
  /** Unexpired bindings (none unless the status is good). */
  readonly bindings: ReadonlyArray<BindingInfo>
  /**
   * A handle of another domain (PROTOCOL.md §22.3.3): that domain's root as the home IRP relayed it,
   * already checked to vouch for that domain alone (§22.3.2). The caller pins it per domain.
   */
  readonly domainRoot?: DomainRoot | undefined
}

/** A domain's users' CA, checked by `checkDomainRoot` (PROTOCOL.md §22.3.2). */
export interface DomainRoot {
  /** DER. */
  readonly root: Uint8Array
  readonly rootCertificate: ParsedCertificate
}

/** Pushed by `watch`: the handle's status and unexpired bindings after a change. */
export interface IdentityChange {
  readonly handle: Handle
  readonly status: IdentityStatus
  readonly bindings: ReadonlyArray<BindingInfo>
}

export interface CertificateStatusRecord {
  readonly serial: SerialHex
  readonly status: "good" | "revoked" | "unknown"
  readonly revokedAt?: number | undefined
  readonly reason?: RevocationReason | undefined
  /** With `status: good`, when asked for: the signed status of PROTOCOL.md §13.6.1 (unchecked here). */
  readonly staple?: Uint8Array | undefined
}

/** `DomainInfo` (PROTOCOL.md §22.3.1), checked: the domain asked about, and a root fit to be its users' CA. */
export interface DomainInfoRecord extends DomainRoot {
  readonly domain: string
  readonly policy: FederationMode
}

export interface RegisterInput {
  readonly deviceId: DeviceId
  readonly addresses: ReadonlyArray<WireAddress>
  readonly ttlSeconds: number
  readonly seq: Seq
}

export interface IrpClient {
  /** The server's verified certificate. */
  readonly server: VerifiedCertificate | undefined
  /** Who we are on this connection; `undefined` when anonymous. */
  readonly handle: Handle | undefined
  readonly enroll: (input: {
    readonly handle: Handle
    readonly token: string
    readonly csr: Uint8Array
  }) => Effect.Effect<IssuedCertificate, IrpClientError>
  readonly renew: (csr: Uint8Array) => Effect.Effect<IssuedCertificate, IrpClientError>
  readonly register: (input: RegisterInput) => Effect.Effect<Registration, IrpClientError>
  readonly deregister: (deviceId: DeviceId) => Effect.Effect<void, IrpClientError>
  readonly deregisterAll: Effect.Effect<void, IrpClientError>
  readonly lookup: (handle: Handle) => Effect.Effect<IdentityRecord, IrpClientError>
  /** `staple`: also ask for a signed short-lived status of a good certificate (PROTOCOL.md §17.8.1). */
  readonly status: (
    serial: SerialHex,
    options?: {
      readonly staple?: boolean | undefined
      /** A certificate of another domain: the home IRP relays the request there (PROTOCOL.md §22.4). */
      readonly domain?: string | undefined
    }
  ) => Effect.Effect<CertificateStatusRecord, IrpClientError>
  /** The domain's signed DER CRL. */
  readonly crl: Effect.Effect<Uint8Array, IrpClientError>
  readonly revoke: (serial: SerialHex, reason?: RevocationReason) => Effect.Effect<void, IrpClientError>
  /**
   * The server's domain, federation mode and domain root (PROTOCOL.md §22.3.1). `domain` is the domain this
   * server should be the IRP of: an answer for another one fails with `WrongDomain`, a root that is not a
   * CA confined to that domain (§22.3.2) with `DomainRootRefused`.
   */
  readonly domainInfo: (
    domain: string,
    options?: {
      /**
       * Ask the server to relay the question to `domain`'s IRP (`<DomainInfo domain>`, PROTOCOL.md §22.4):
       * a User Agent asking its home IRP about another domain. Without it the server answers for itself.
       */
      readonly relay?: boolean | undefined
    }
  ) => Effect.Effect<DomainInfoRecord, IrpClientError>
  /**
   * Watches 1 to 64 handles: succeeds once the server acknowledged (every change from then on is
   * pushed), with the stream of changes as the server pushes them. The stream fails when the connection
   * ends; closing the scope unwatches (handles another open watch still wants stay watched).
   */
  readonly watch: (
    handles: ReadonlyArray<Handle>
  ) => Effect.Effect<Stream.Stream<IdentityChange, IrpClientError>, IrpClientError, Scope.Scope>
  readonly ping: Effect.Effect<void, IrpClientError>
  /** Ends the connection cleanly (also done when the scope closes). */
  readonly close: Effect.Effect<void>
}

export interface IrpClientsService {
  /**
   * Dials and runs the handshake (expecting the server certificate). With an identity it also makes one
   * round trip, so a server that refuses our certificate (revoked, expired, another domain's) fails the
   * connect with `unauthorized` rather than the first request.
   */
  readonly connect: (options: IrpConnectOptions) => Effect.Effect<IrpClient, IrpClientError, Scope.Scope>
}

export class IrpClients extends Context.Tag("sixchat/IrpClients")<IrpClients, IrpClientsService>() {}
