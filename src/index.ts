/**
 * The library surface of `sixchat` (issue 12 §1, docs/LIBRARY.md): the ports (`Context.Tag`s with their
 * service interfaces and typed errors), their live layers as namespaces, and the domain values a caller
 * needs to use them (brands, certificate verification errors, the domain directory). Importing this
 * module has no side effects; the command line is `sixchat` (`bin/sixchat`, `dist/main.js`).
 *
 * Proof values (`VerifiedCertificate`, `PeerAuthenticated`) are exported as types only: they come out of
 * a CertVerifier and a finished handshake, never from a caller's object literal.
 *
 * Test doubles (the in-memory network, seeded Entropy, a test PKI) are in `sixchat/testing`.
 */

export { AgentStoreError } from "./domain/agent/errors.js"
// --- Domain values the ports speak in ---
export {
  type Address,
  type Fingerprint,
  formatAddress,
  Handle,
  makeAddress,
  parseAddress
} from "./domain/brands.js"
export {
  CertError,
  type CertRejection,
  type Purpose,
  type RevocationSource,
  type VerifiedCertificate,
  type VerifiedFields,
  type VerifyRequest
} from "./domain/cert/verify.js"
export type { AppMessage } from "./domain/e2e/messages.js"
export { makeLocalIdentity } from "./domain/handshake/identity.js"
export type { LocalIdentity } from "./domain/handshake/parameters.js"
export type { PeerAuthenticated } from "./domain/handshake/peerAuth.js"
export { RegistryError } from "./domain/irp/registry.js"
export { pemDecode, pemEncode } from "./domain/pem.js"
export { CaError } from "./domain/pki/errors.js"
// --- Live layers (each module: `make` and `layer`) ---
export * as AgentLive from "./layers/agent/AgentLive.js"
export * as IrpAgent from "./layers/agent/irp/IrpAgent.js"
export * as AgentStoreLive from "./layers/agent/store/AgentStoreLive.js"
export * as CertVerifierLive from "./layers/CertVerifierLive.js"
export * as CertificateAuthorityLive from "./layers/ca/CertificateAuthority.js"
export * as DomainDirectory from "./layers/ca/DomainDirectory.js"
export * as SecureChannelLive from "./layers/channel/SecureChannelLive.js"
export * as CryptoLive from "./layers/crypto/CryptoLive.js"
export * as EntropyLive from "./layers/EntropyLive.js"
export * as IrpClientLive from "./layers/irp/client/IrpClientLive.js"
export * as SqlRegistry from "./layers/irp/registry/SqlRegistry.js"
export * as IrpServerLive from "./layers/irp/server/IrpServerLive.js"
export { revocationChecked } from "./layers/revocationChecked.js"
export * as Database from "./layers/sql/Database.js"
export * as PgLive from "./layers/sql/PgLive.js"
export * as SqliteLive from "./layers/sql/SqliteLive.js"
export * as TcpTransport from "./layers/transport/TcpTransport.js"
// --- Ports: tags, service interfaces, typed errors ---
export * from "./services/Agent.js"
export * from "./services/AgentListeners.js"
export * from "./services/AgentStore.js"
export {
  CertificateAuthority,
  type CertificateAuthorityService,
  type IssuedCertificate as CaIssuedCertificate
} from "./services/CertificateAuthority.js"
export * from "./services/CertVerifier.js"
export * from "./services/Crypto.js"
export * from "./services/Directory.js"
export * from "./services/Entropy.js"
export * from "./services/FileTransfers.js"
export * from "./services/IrpClient.js"
export * from "./services/IrpConnection.js"
export * from "./services/IrpRegistry.js"
export * from "./services/IrpRevocations.js"
export * from "./services/IrpServer.js"
export * from "./services/PeerStatus.js"
export * from "./services/Presence.js"
export * from "./services/RequestLog.js"
export * from "./services/SecureChannel.js"
export * from "./services/SessionPlugin.js"
export * from "./services/SyncReads.js"
export * from "./services/SyncWrites.js"
export * from "./services/Transport.js"
