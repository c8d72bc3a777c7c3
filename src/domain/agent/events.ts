/**
 * The agent store's change feed (issue 4, section 1: the control socket's `subscribe`): every event
 * is published after its transaction committed, in commit order. Schemas, so that the control socket
 * can encode them as JSON.
 */
import { Schema } from "effect"
import { Fingerprint, Handle } from "../brands.js"
import { KeyChange } from "./contacts.js"
import { DomainKeyChange } from "./domainRoots.js"
import { StoredMessage } from "./messages.js"
import { ByteCount, Transfer, TransferRef } from "./transfers.js"

/** A message was stored: enqueued by this user, or received (new, not a duplicate). */
export const MessageAdded = Schema.TaggedStruct("agent.MessageAdded", { message: StoredMessage })
/** A message's state changed (sent, delivered, read, cancelled, read by this user). */
export const MessageUpdated = Schema.TaggedStruct("agent.MessageUpdated", { message: StoredMessage })
/** A first key was pinned for a handle. */
export const ContactPinned = Schema.TaggedStruct("agent.ContactPinned", { handle: Handle, fingerprint: Fingerprint })
/** A key change was seen (`status: pending`) or accepted (`status: accepted`). */
export const KeyChanged = Schema.TaggedStruct("agent.KeyChanged", { change: KeyChange })
/** A foreign domain's root changed (PROTOCOL.md §22.3.3): `status: pending` (held) or `accepted`. */
export const DomainKeyChanged = Schema.TaggedStruct("agent.DomainKeyChanged", { change: DomainKeyChange })
/** A transfer was recorded, or its state changed. */
export const TransferUpdated = Schema.TaggedStruct("agent.TransferUpdated", { transfer: Transfer })
/** Bytes moved (throttled: see `ProgressPolicy`). */
export const TransferProgress = Schema.TaggedStruct("agent.TransferProgress", {
  ref: TransferRef,
  offset: ByteCount,
  size: ByteCount
})

export const StoreEvent = Schema.Union(
  MessageAdded,
  MessageUpdated,
  ContactPinned,
  KeyChanged,
  DomainKeyChanged,
  TransferUpdated,
  TransferProgress
)
export type StoreEvent = typeof StoreEvent.Type
