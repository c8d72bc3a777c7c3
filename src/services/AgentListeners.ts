/**
 * AgentListeners: the agent's bound listening sockets (PROTOCOL.md §2, port 4605), bound before anything
 * else so that Presence registers the real ports. Implemented by `layers/agent/core/Listeners.ts`.
 */
import { Context } from "effect"
import type { Address } from "../domain/brands.js"
import type { Listener } from "./Transport.js"

export interface AgentListenersService {
  readonly listeners: ReadonlyArray<Listener>
  /** The bound addresses, in the order configured. */
  readonly addresses: ReadonlyArray<Address>
}

export class AgentListeners extends Context.Tag("sixchat/AgentListeners")<AgentListeners, AgentListenersService>() {}
