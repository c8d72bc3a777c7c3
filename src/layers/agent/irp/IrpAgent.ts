/**
 * A User Agent wired to its domain's IRP (issue 4, section 1): one IRP connection shared by the
 * Directory (lookups, watches) and Presence (this device's binding), the revocations the Directory
 * learns checked on top of the agent's CertVerifier (`revocationChecked`), the SQLite store, the file
 * transfers, TCP. The CertVerifier (one that trusts the domain's root) comes from the context like every
 * other service, so a composition may give a mock.
 *
 *     const context = yield* Layer.build(IrpAgent.layer(config))   // Agent, Presence, AgentListeners, IrpConnection
 *
 * Shutdown order (scopes close in reverse): the agent closes its sessions with `<Close/>`, Presence
 * deregisters, the listeners close, then the IRP connection.
 */
import { Effect, Layer } from "effect"
import { type Address, type Handle, handleDomain } from "../../../domain/brands.js"
import type { LocalIdentity } from "../../../domain/handshake/parameters.js"
import type { Agent, AgentError } from "../../../services/Agent.js"
import type { AgentStore } from "../../../services/AgentStore.js"
import { CertVerifier } from "../../../services/CertVerifier.js"
import { DomainRoots } from "../../../services/DomainRoots.js"
import type { Entropy } from "../../../services/Entropy.js"
import type { IrpClients } from "../../../services/IrpClient.js"
import type { Presence } from "../../../services/Presence.js"
import type { Transport, TransportError } from "../../../services/Transport.js"
import type { CryptoPorts } from "../../crypto/CryptoLive.js"
import { revocationChecked } from "../../revocationChecked.js"
import * as AgentFiles from "../AgentFiles.js"
import * as AgentLive from "../AgentLive.js"
import type { AgentListeners } from "../core/Listeners.js"
import type { AgentOptions } from "../core/options.js"
import { makeCell } from "./credentials.js"
import * as DomainRootsLive from "./DomainRootsLive.js"
import { federatedVerifier } from "./federatedVerifier.js"
import * as IrpConnection from "./IrpConnection.js"
import * as IrpDirectory from "./IrpDirectory.js"
import * as IrpPeerStatus from "./IrpPeerStatus.js"
import * as IrpPresence from "./IrpPresence.js"
import * as Renewal from "./renewal.js"

export interface IrpAgentConfig {
  /** Foreign domains' roots (PROTOCOL.md §22.3.3): how long a relayed DomainInfo may take, how often to refresh. */
  readonly domainRoots?: Omit<DomainRootsLive.DomainRootsOptions, "strictKeys"> | undefined
  readonly handle: Handle
  readonly identity: LocalIdentity
  /** The same key and chain as DER, for the IRP connection. */
  readonly credentials: { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> }
  readonly deviceId: string
  readonly irp: { readonly address: Address; readonly serverName: string }
  readonly listen?: ReadonlyArray<Address> | undefined
  readonly options?: Partial<AgentOptions> | undefined
  /** `H/downloads`; without it the agent offers no file transfer. */
  readonly downloadsDir?: string | undefined
  readonly acceptPolicy?: AgentFiles.AgentFilesOptions["policy"]
  readonly presence?: Omit<IrpPresence.IrpPresenceOptions, "deviceId"> | undefined
  /** The status gate (PROTOCOL.md §13.6): how long a fresh Status about a peer may take. */
  readonly status?: Omit<IrpPeerStatus.IrpPeerStatusOptions, "chain"> | undefined
  readonly connection?:
    | Omit<IrpConnection.IrpConnectionOptions, "address" | "serverName" | "identity" | "handle">
    | undefined
  /** Renew our certificate before it expires (PROTOCOL.md 17.4.8); without it the agent never renews. */
  readonly renewal?: Renewal.RenewalOptions | undefined
}

/**
 * The agent over the IRP. Needs the store, a CertVerifier trusting the domain's root, the IRP client
 * (`IrpClients`, e.g. `IrpClientLive.layer`, or a mock), Transport, the crypto ports and Entropy.
 */
export const layer = (
  config: IrpAgentConfig
): Layer.Layer<
  Agent | Presence | AgentListeners | IrpConnection.IrpConnection | DomainRoots,
  AgentError | TransportError,
  AgentStore | CertVerifier | IrpClients | Transport | CryptoPorts | Entropy
> => {
  const notes = IrpDirectory.makeRevocationNotes()
  // Our certificate changes when the agent renews it: new handshakes read the current one.
  const cell = makeCell({ identity: config.identity, ...config.credentials })
  const connection = IrpConnection.layer({
    ...config.connection,
    address: config.irp.address,
    serverName: config.irp.serverName,
    identity: () => cell.get(),
    handle: config.handle
  })
  const renewal =
    config.renewal === undefined
      ? Layer.empty
      : Layer.scopedDiscard(Effect.forkScoped(Renewal.run(config.handle, cell, config.renewal)))
  // PROTOCOL.md §22.3.3: foreign domains' roots, pinned in the store, fetched through our IRP.
  const roots = DomainRootsLive.layer({ ...config.domainRoots, strictKeys: config.options?.strictKeys })
  const directory = IrpDirectory.layer.pipe(
    Layer.provideMerge(roots),
    Layer.provideMerge(connection),
    Layer.provide(IrpDirectory.revocationsLayer(notes))
  )
  const presence = IrpPresence.layer({ ...config.presence, deviceId: config.deviceId })
  // §22.4.1: a foreign handle is verified under its own domain's pinned root only.
  const ownDomain = handleDomain(config.handle)
  const verifier = Layer.effect(
    CertVerifier,
    Effect.gen(function* () {
      const given = yield* CertVerifier
      const domainRoots = yield* DomainRoots
      return revocationChecked(federatedVerifier(given, { ownDomain, roots: domainRoots }), notes)
    })
  )
  // PROTOCOL.md §13.6: our own staple, and the gate every peer's certificate passes before a session.
  const peerStatus = IrpPeerStatus.layer({ ...config.status, chain: () => cell.get().chain })
  return AgentLive.layerWith(
    {
      handle: config.handle,
      identity: config.identity,
      identityNow: () => cell.get().identity,
      deviceId: config.deviceId,
      listen: config.listen,
      options: config.options,
      files:
        config.downloadsDir === undefined
          ? undefined
          : AgentFiles.feature({
              downloadsDir: config.downloadsDir,
              policy: config.acceptPolicy,
              ownFingerprint: config.identity.fingerprint
            })
    },
    presence
  ).pipe(Layer.provide(peerStatus), Layer.provideMerge(renewal), Layer.provide(verifier), Layer.provideMerge(directory))
}
