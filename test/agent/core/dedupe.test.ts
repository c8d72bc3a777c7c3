/**
 * The receiver's side of "nothing is lost, nothing is duplicated" (PROTOCOL.md §15): a peer resends
 * a message (same id) within a session and after a reconnect; the agent stores it once and
 * acknowledges every copy, because the Ack means "stored" and the sender may have missed the first.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { timestampOf } from "../../../src/domain/agent/messages.js"
import { Handle, type Id, makeAddress } from "../../../src/domain/brands.js"
import type { AppMessage } from "../../../src/domain/e2e/messages.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { channelsFor } from "../../support/channels.js"
import { makeTestPki } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import { fileStore, startAgent, tempDir } from "./helpers.js"

const pki = makeTestPki()
const anchors = [pki.caDer]
const aliceId = pki.identity("alice@example.org")
const bobId = pki.identity("bob@example.org")
const alice = Handle.make("alice@example.org")
const bob = Handle.make("bob@example.org")
const ID = "01JDQ3ZV8Y6W4R2T0N9M7K5H3G" as Id

const message: AppMessage = { _tag: "e2e.Message", id: ID, sent: timestampOf(1_700_000_000_000), body: "only once" }

describe("receiver dedupe", () => {
  it.live("a message resent in the same session and after a reconnect is stored once and acknowledged each time", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* tempDir
        const directory = yield* MemoryDirectory.make
        const transport = yield* TcpTransport.make
        const b = yield* startAgent({
          identity: bobId,
          anchors,
          directory,
          transport,
          store: fileStore(join(dir, "bob.db")),
          listen: [makeAddress("127.0.0.1", 0)]
        })
        const address = directory.addressesOf(bob)[0]!
        // Alice is a bare channel here, so the test controls exactly what is sent.
        const channels = yield* channelsFor({ identity: aliceId, anchors })
        const acks: Array<string> = []
        const exchange = (copies: number) =>
          Effect.scoped(
            Effect.gen(function* () {
              const ch = yield* channels.dial(address, { _tag: "Handle", handle: bob })
              for (let i = 0; i < copies; i++) {
                yield* ch.send(message)
                const reply = yield* ch.receive
                if (reply._tag === "Message" && reply.message._tag === "e2e.Ack") acks.push(reply.message.id)
              }
              yield* ch.send({ _tag: "e2e.Ping", nonce: "n1" })
              const pong = yield* ch.receive
              expect(pong).toEqual({ _tag: "Message", message: { _tag: "e2e.Pong", nonce: "n1" } })
            })
          )
        yield* exchange(2)
        yield* exchange(1)
        expect(acks).toEqual([ID, ID, ID])
        const history = yield* b.agent.history({ peer: alice })
        expect(history.map((m) => [m.id, m.direction, m.body])).toEqual([[ID, "in", "only once"]])
        expect(history[0]!.createdAt).toBe(1_700_000_000_000)
      })
    )
  )
})
