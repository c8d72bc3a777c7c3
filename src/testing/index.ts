/**
 * `sixchat/testing`: the test kit (issue 12 §2; docs/LIBRARY.md "Testing"). Deterministic tests of
 * SixChat programs with `@effect/vitest`: the in-memory network on the Effect `Clock` (latency, jitter,
 * partitions, dropped connections, nodes with several addresses), seeded `Entropy`, a test PKI made with
 * SixChat's own CA code (no `openssl`), peers with E2E channels, and an in-memory connection pair.
 *
 * A connection that is lost is a reset (`dropConnections`), as on TCP, which retransmits lost segments;
 * an address change is a node given a new address (`transportFor(newHost)`) with its old connections
 * dropped.
 */
export { seeded as seededEntropy, seededService as seededEntropyService } from "../layers/EntropyLive.js"
export {
  connect,
  type PeerOptions,
  peer,
  type TestPeer,
  type WorldOptions,
  world
} from "./peers.js"
export { type PipeOptions, pipe } from "./pipe.js"
export type { TestCredentials, TestIdentity } from "./pki.js"
export * as TestPki from "./pki.js"
export * as SimNetwork from "./SimNetwork.js"
export { Network } from "./SimNetwork.js"
