// A downstream program, typechecked against the published declarations of `sixchat` (issue 12 §5).

import { Effect, type Layer } from "effect"
import {
  type AgentError,
  type AgentStoreError,
  type CaError,
  type CertError,
  CertVerifier,
  CertVerifierLive,
  type ChannelError,
  type DirectoryError,
  type FileTransferError,
  Handle,
  type IrpClientError,
  type IrpServerError,
  type RegistryError,
  TcpTransport,
  type Transport,
  type TransportError
} from "sixchat"
import { TestPki, world } from "sixchat/testing"

// Services are tags; live layers are namespaces with `layer`.
const transport: Layer.Layer<Transport> = TcpTransport.layer
const verifier = (anchor: Uint8Array): Layer.Layer<CertVerifier, unknown> =>
  CertVerifierLive.layer({ anchors: [anchor] })

// Every subsystem's typed error is exported (docs/LIBRARY.md, "Typed errors").
export type SixChatError =
  | TransportError
  | ChannelError
  | CertError
  | IrpClientError
  | IrpServerError
  | RegistryError
  | AgentError
  | AgentStoreError
  | DirectoryError
  | FileTransferError
  | CaError

// Typed errors are classes with a reason.
const describe = (e: IrpClientError | ChannelError): string => `${e._tag}: ${e.reason}`

export const program = Effect.gen(function* () {
  const pki = yield* TestPki.make({ domain: "example.org" })
  const alice = yield* pki.identity("alice@example.org")
  const checked = yield* Effect.flatMap(CertVerifier, (v) =>
    v.verify({ chain: alice.chain, purpose: "client-auth", expectedHandle: Handle.make("alice@example.org") })
  ).pipe(Effect.provide(pki.verifier))
  return checked.handle
}).pipe(Effect.provide(world({ seed: "consumer" })))

export { describe, transport, verifier }
