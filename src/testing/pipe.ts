/**
 * An in-memory connection pair for channel tests: ordered bytes, half-close, destroy, and an optional
 * tap that may rewrite the byte stream in one direction (bit flips, truncation).
 */
import { Effect } from "effect"
import { type Address, makeAddress } from "../domain/brands.js"
import { type Connection, TransportError } from "../services/Transport.js"
import { concatParts } from "./simLinks.js"

type Waiter = (r: Uint8Array | null | TransportError) => void

class End {
  readonly queue: Array<Uint8Array | null | TransportError> = []
  waiter: Waiter | undefined
  deliver(item: Uint8Array | null | TransportError) {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w(item)
    } else this.queue.push(item)
  }
}

export interface PipeOptions {
  /** Rewrites each chunk sent from a to b (return the bytes to deliver). Sees a running byte offset. */
  readonly tapAtoB?: (chunk: Uint8Array, offset: number) => Uint8Array
  readonly tapBtoA?: (chunk: Uint8Array, offset: number) => Uint8Array
}

export const pipe = (options: PipeOptions = {}): readonly [Connection, Connection] => {
  const aIn = new End()
  const bIn = new End()
  let destroyed = false
  const offsets = { ab: 0, ba: 0 }
  const addrA = makeAddress("10.0.0.1", 40000)
  const addrB = makeAddress("10.0.0.2", 4605)
  const side = (
    local: Address,
    remote: Address,
    inbox: End,
    outbox: End,
    tap: ((c: Uint8Array, o: number) => Uint8Array) | undefined,
    key: "ab" | "ba"
  ): Connection => {
    let ended = false
    return {
      local,
      remote,
      read: Effect.async<Uint8Array | null, TransportError>((resume) => {
        const item = inbox.queue.shift()
        const handle = (r: Uint8Array | null | TransportError) =>
          resume(r instanceof TransportError ? Effect.fail(r) : Effect.succeed(r))
        if (item !== undefined) handle(item)
        else inbox.waiter = handle
      }),
      write: (parts) =>
        Effect.suspend(() => {
          if (destroyed || ended)
            return Effect.fail(new TransportError({ reason: "Reset", message: "connection closed" }))
          const bytes = parts instanceof Uint8Array ? parts : concatParts(parts)
          const out = tap === undefined ? bytes : tap(bytes, offsets[key])
          offsets[key] += bytes.length
          if (out.length > 0) outbox.deliver(out.slice())
          return Effect.void
        }),
      end: Effect.sync(() => {
        if (!ended && !destroyed) {
          ended = true
          outbox.deliver(null)
        }
      }),
      destroy: Effect.sync(() => {
        if (destroyed) return
        destroyed = true
        if (!ended) outbox.deliver(new TransportError({ reason: "Reset", message: "connection reset by peer" }))
        inbox.deliver(new TransportError({ reason: "Reset", message: "connection destroyed" }))
      })
    }
  }
  return [
    side(addrA, addrB, aIn, bIn, options.tapAtoB, "ab"),
    side(addrB, addrA, bIn, aIn, options.tapBtoA, "ba")
  ] as const
}
