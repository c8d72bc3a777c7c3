/**
 * Presence: keeps this device's own bindings registered with the domain's IRP (PROTOCOL.md §17):
 * register at start, renew before the lease ends, re-register at once when the host's addresses
 * change, warn when the IRP suspects a NAT, deregister on shutdown (when the layer's scope closes).
 */
import { Context, type Effect, type Stream } from "effect"
import type { Address } from "../domain/brands.js"

export type PresenceEvent =
  | { readonly _tag: "Registered"; readonly addresses: ReadonlyArray<Address>; readonly expiresAt: number }
  | { readonly _tag: "NatSuspected"; readonly observed: Address }
  | { readonly _tag: "RegistrationFailed"; readonly message: string }
  | { readonly _tag: "Deregistered" }

export interface PresenceService {
  /** The addresses currently registered (empty before the first registration succeeds). */
  readonly current: Effect.Effect<ReadonlyArray<Address>>
  /** Registers again now (e.g. after the listening addresses changed). */
  readonly refresh: Effect.Effect<void>
  readonly events: Stream.Stream<PresenceEvent>
}

export class Presence extends Context.Tag("sixchat/Presence")<Presence, PresenceService>() {}
