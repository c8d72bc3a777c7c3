/**
 * The server's watch hub on its own (`makeHub` in `watches.ts`): the fan-out fiber takes whatever the
 * change feed holds at once (issue 15), and still reads and pushes every watched handle's changes, in
 * the order they were committed, while changes of handles nobody watches are passed over.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, PubSub, Queue } from "effect"
import { Handle } from "../../../src/domain/brands.js"
import type { Changed } from "../../../src/domain/irp/messages.js"
import type { RegistryChange } from "../../../src/domain/irp/registry.js"
import { makeHub } from "../../../src/layers/irp/server/watches.js"
import type { IrpRegistryService } from "../../../src/services/IrpRegistry.js"

const h = (name: string) => Handle.make(`${name}@example.org`)
const change = (name: string): RegistryChange => ({ handle: h(name), kind: "bindings" })

/** A hub over a feed this test publishes to; `stateOf` records what it is asked, in order. */
const setup = Effect.gen(function* () {
  const feed = yield* PubSub.unbounded<RegistryChange>()
  const registry = { subscribe: PubSub.subscribe(feed) } as unknown as IrpRegistryService
  const read: Array<Handle> = []
  let version = 0
  const hub = yield* makeHub(registry, (c) =>
    Effect.sync((): Changed => {
      read.push(c.handle)
      return { _tag: "irp.Changed", handle: c.handle, status: "good", bindings: [], seq: ++version } as never
    })
  )
  const pushed = yield* Queue.unbounded<Changed>()
  const sink = { push: (c: Changed) => Queue.offer(pushed, c) }
  return { feed, hub, read, pushed, sink }
})

describe("watch hub", () => {
  it.scoped("reads and pushes each watched change of one batch, in order, and skips the others", () =>
    Effect.gen(function* () {
      const { feed, hub, read, pushed, sink } = yield* setup
      hub.add([h("a"), h("c")], sink)
      // One commit's changes, published together: the hub takes them in one wake.
      const others = Array.from({ length: 100 }, (_, i) => `other${i}`)
      yield* PubSub.publishAll(feed, ["a", "b", "c", "b", ...others, "a", "c"].map(change))
      const seen = yield* Effect.forEach([1, 2, 3, 4], () => Queue.take(pushed))
      expect(seen.map((c) => c.handle)).toEqual([h("a"), h("c"), h("a"), h("c")])
      expect(read).toEqual([h("a"), h("c"), h("a"), h("c")])
    })
  )

  it.scoped("follows watches added and removed between batches", () =>
    Effect.gen(function* () {
      const { feed, hub, read, pushed, sink } = yield* setup
      hub.add([h("a")], sink)
      yield* PubSub.publishAll(feed, [change("b"), change("a")])
      expect((yield* Queue.take(pushed)).handle).toBe(h("a"))
      hub.add([h("b")], sink)
      hub.remove([h("a")], sink)
      yield* PubSub.publishAll(feed, [change("a"), change("b")])
      expect((yield* Queue.take(pushed)).handle).toBe(h("b"))
      expect(read).toEqual([h("a"), h("b")])
      expect(yield* Queue.size(pushed)).toBe(0)
    })
  )
})
