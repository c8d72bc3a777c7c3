/** The one error of the control socket, server side and client side (issue 4, section 1 "Local control"). */
import * as Path from "node:path"
import { Data } from "effect"
import type { AgentErrorReason } from "../../../domain/agent/rpc.js"

export type ControlErrorReason =
  | "AlreadyRunning" // server: another agent answers on the socket
  | "SocketPath" // server: the path is too long, not a socket, or cannot be bound
  | "NoAgent" // client: nothing listens on the socket
  | "Connection" // client: the connection failed or ended
  | "Protocol" // client: the agent sent something that is not the protocol
  | "Rpc" // client: the call failed with a JSON-RPC error (see `code`, `agentReason`)

export class ControlError extends Data.TaggedError("ControlError")<{
  readonly reason: ControlErrorReason
  /** One sentence that says what went wrong and what to do. */
  readonly message: string
  /** `Rpc`: the JSON-RPC error code. */
  readonly code?: number
  /** `Rpc`: the `AgentError` reason behind an application error code. */
  readonly agentReason?: AgentErrorReason
  readonly cause?: unknown
}> {}

/** The identity home a socket path belongs to (for messages). */
export const homeOf = (socketPath: string): string => Path.dirname(socketPath)

export const noAgent = (socketPath: string, cause?: unknown): ControlError => {
  const home = homeOf(socketPath)
  return new ControlError({
    reason: "NoAgent",
    message: `no agent is running for ${home}: start it with \`sixchat agent --home ${home}\``,
    cause
  })
}

export const connectionLost = (cause?: unknown): ControlError =>
  new ControlError({
    reason: "Connection",
    message: "the connection to the agent ended (did it stop?): check `sixchat status` and try again",
    cause
  })

/** Longest socket path: `sun_path` holds 108 bytes on Linux (104 on macOS), with its terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = process.platform === "linux" ? 107 : 103

export const checkSocketPathLength = (socketPath: string): ControlError | undefined =>
  Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES
    ? new ControlError({
        reason: "SocketPath",
        message: `${socketPath} is ${Buffer.byteLength(socketPath)} bytes, longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES}): use a --home with a shorter path`
      })
    : undefined
