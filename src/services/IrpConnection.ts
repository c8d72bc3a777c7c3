/**
 * IrpConnection: the User Agent's one authenticated connection to its domain's IRP server (PROTOCOL.md
 * §17), kept up by a supervisor and shared by Presence and the Directory. Implemented by
 * `layers/agent/irp/IrpConnection.ts`.
 */
import { Context, type Effect, type Stream } from "effect"
import type { Address, Handle } from "../domain/brands.js"
import type { IrpClient, IrpClientError } from "./IrpClient.js"

export interface Connected {
  readonly _tag: "Up"
  readonly client: IrpClient
  /** Counts connections: 1 for the first one, +1 per reconnect. */
  readonly generation: number
}

export type ConnectionState =
  | Connected
  | { readonly _tag: "Down"; readonly error: IrpClientError | undefined; readonly attempts: number }

export interface IrpConnectionService {
  readonly handle: Handle
  readonly address: Address
  readonly state: Effect.Effect<ConnectionState>
  /** The current connection, then each new one (after reconnects), until the stream's scope closes. */
  readonly connections: Stream.Stream<Connected>
  /**
   * Runs `f` on the connection, waiting for one (at most `waitForConnection`). A channel failure of
   * `f` drops that connection so that the supervisor reconnects.
   */
  readonly use: <A>(f: (client: IrpClient) => Effect.Effect<A, IrpClientError>) => Effect.Effect<A, IrpClientError>
  /** Like `use`, but fails at once when there is no connection now (shutdown paths). */
  readonly useNow: <A>(f: (client: IrpClient) => Effect.Effect<A, IrpClientError>) => Effect.Effect<A, IrpClientError>
  /** Reports that `f` on connection `generation` failed; drops it if the failure is the channel's. */
  readonly failed: (generation: number, error: IrpClientError) => Effect.Effect<void>
  /**
   * Drops the current connection so that the supervisor connects again, with the identity read anew
   * (after a renewal, PROTOCOL.md 17.4.8: the server judges a connection by the certificate it began with).
   */
  readonly reconnect: (why: string) => Effect.Effect<void>
}

export class IrpConnection extends Context.Tag("sixchat/agent/IrpConnection")<IrpConnection, IrpConnectionService>() {}
