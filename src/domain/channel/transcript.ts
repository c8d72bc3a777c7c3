/**
 * Transcript hash (PROTOCOL.md §6): SHA-256 over the exact plaintext bytes of each handshake message,
 * in order, as they were sent — never re-serialised XML.
 *
 * A transcript is owned by exactly one handshake state at a time; each transition hands it on.
 */
import type { Hashing, Sha256State } from "../crypto/primitives.js"

export class Transcript {
  private readonly state: Sha256State

  constructor(hashing: Hashing) {
    this.state = hashing.sha256State()
  }

  /** Adds one handshake message's bytes. */
  add(message: Uint8Array): this {
    this.state.update(message)
    return this
  }

  /** Hash of every message added so far. */
  hash(): Uint8Array {
    return this.state.snapshot()
  }
}
