/**
 * IrpServer: a running IRP server of one domain (PROTOCOL.md §§2 and 17): it listens on port 4604 (or
 * wherever it is told), presents its server certificate as the responder of the secure channel, and
 * answers requests from its `IrpRegistry` and `CertificateAuthority`. Built by
 * `layers/irp/server/IrpServerLive`; closing its scope stops listening and closes every connection.
 */
import { Context, Data, type Effect } from "effect"
import type { Address } from "../domain/brands.js"
import type { Connection } from "./Transport.js"

export class IrpServerError extends Data.TaggedError("IrpServerError")<{
  readonly reason:
    | "Listen" // an address could not be bound (in use, not local)
    | "Identity" // the server's certificate and key do not fit together
    | "Storage" // the registry could not be read at start-up
    | "Federation" // the public anchors for other domains' IRPs cannot be read (PROTOCOL.md §22.2.4)
  readonly message: string
  readonly cause?: unknown
}> {}

export interface IrpServerService {
  /** The bound addresses, real ports included (when port 0 was asked for). */
  readonly addresses: ReadonlyArray<Address>
  /** Serves one already accepted connection until it ends (the listeners use it; tests may too). */
  readonly handleConnection: (connection: Connection) => Effect.Effect<void>
  /** Connections being served now. */
  readonly connections: Effect.Effect<number>
}

export class IrpServer extends Context.Tag("sixchat/IrpServer")<IrpServer, IrpServerService>() {}
