/**
 * Key pinning (PROTOCOL.md §13; issue 4, section 1): the first handshake pins the peer's SPKI
 * fingerprint; a new key for the same handle is a key change. Strict mode refuses the session with
 * `<Close reason="key_changed"/>` until the user trusts the new key; otherwise it is reported and
 * accepted.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import type { AgentService } from "../../../src/services/Agent.js"
import { makeTestPki, type TestIdentity } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import { eventually, fileStore, localIdentity, recordEvents, startAgent, tempDir } from "./helpers.js"

const pki = makeTestPki()
const anchors = [pki.caDer]
const aliceId = pki.identity("alice@example.org")
const bobOld = pki.identity("bob@example.org")
const bobNew = pki.identity("bob@example.org")
const alice = Handle.make("alice@example.org")
const bob = Handle.make("bob@example.org")

const setup = (strictKeys: boolean) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const directory = yield* MemoryDirectory.make
    const transport = yield* TcpTransport.make
    const start = (identity: TestIdentity, name: string, strict: boolean) =>
      startAgent({
        identity,
        anchors,
        directory,
        transport,
        store: fileStore(join(dir, `${name}.db`), { retry: { baseMs: 20, maxMs: 200 } }),
        listen: [makeAddress("127.0.0.1", 0)],
        options: { strictKeys: strict }
      })
    const a = yield* start(aliceId, "alice", strictKeys)
    const b1 = yield* start(bobOld, "bob", false)
    // First contact pins bob's first key.
    const hello = yield* b1.agent.send(alice, "first key")
    yield* delivered(b1.agent, hello.id)
    expect((yield* a.agent.contact(bob)).fingerprint).toBe(localIdentity(bobOld).fingerprint)
    yield* b1.stop
    yield* eventually(
      Effect.map(a.agent.status, (s) => (s.sessions.length === 0 ? true : undefined)),
      "bob gone"
    )
    // Bob comes back with a new key (same handle, same store).
    const events = yield* recordEvents(a.agent)
    const b2 = yield* start(bobNew, "bob", false)
    return { a, b2, events }
  })

const stateOf = (agent: AgentService, id: string) =>
  Effect.map(agent.history({}), (h) => h.find((m) => m.id === id && m.direction === "out")?.state)

const delivered = (agent: AgentService, id: string) =>
  eventually(
    Effect.map(stateOf(agent, id), (s) => (s === "delivered" ? s : undefined)),
    `${id} delivered`
  )

describe("key changes", () => {
  it.live("strict: the changed key is refused until trusted, then the queued message arrives", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { a, b2, events } = yield* setup(true)
        const m = yield* b2.agent.send(alice, "new key")
        // Alice refuses again and again: bob keeps counting failed attempts.
        yield* eventually(
          Effect.map(b2.store.peersWithOutbox(), (p) => ((p[0]?.failures ?? 0) >= 3 ? true : undefined)),
          "repeated refusals"
        )
        expect((yield* a.agent.history({ peer: bob })).map((x) => x.body)).toEqual(["first key"])
        expect(yield* stateOf(b2.agent, m.id)).not.toBe("delivered")
        const contact = yield* a.agent.contact(bob)
        expect(contact.fingerprint).toBe(localIdentity(bobOld).fingerprint)
        expect(contact.pendingKeyChange?.current).toBe(localIdentity(bobNew).fingerprint)
        const seen = [...(yield* Queue.takeAll(events))]
        const changes = seen.filter((e) => e._tag === "agent.KeyChanged")
        expect(changes.map((e) => e._tag === "agent.KeyChanged" && e.change.status)).toEqual(["pending"])

        // Dialing out is refused the same way: alice's own message to bob waits too.
        const reply = yield* a.agent.send(bob, "to the new key")
        yield* eventually(
          Effect.map(a.store.peersWithOutbox(), (p) =>
            p[0]?.lastError?.includes("new key") === true ? true : undefined
          ),
          "alice refusing her own dial"
        )
        expect(yield* stateOf(a.agent, reply.id)).toBe("queued")

        yield* a.agent.trust(bob)
        yield* delivered(b2.agent, m.id)
        yield* delivered(a.agent, reply.id)
        // In the order things happened here: alice's reply was written before bob's message arrived
        // (an incoming message stands at its arrival, issue 10 section 6).
        expect((yield* a.agent.history({ peer: bob })).map((x) => [x.direction, x.body])).toEqual([
          ["in", "first key"],
          ["out", "to the new key"],
          ["in", "new key"]
        ])
        const trusted = yield* a.agent.contact(bob)
        expect(trusted.fingerprint).toBe(localIdentity(bobNew).fingerprint)
        expect(trusted.pendingKeyChange).toBeNull()
      })
    )
  )

  it.live("not strict: the change is reported and the session accepted", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { a, b2, events } = yield* setup(false)
        const m = yield* b2.agent.send(alice, "new key")
        yield* delivered(b2.agent, m.id)
        const change = yield* eventually(
          Effect.map(Queue.takeAll(events), (c) => [...c].find((e) => e._tag === "agent.KeyChanged")),
          "a key change event"
        )
        expect(change._tag === "agent.KeyChanged" && change.change.status).toBe("accepted")
        expect(change._tag === "agent.KeyChanged" && change.change.current).toBe(localIdentity(bobNew).fingerprint)
        const contact = yield* a.agent.contact(bob)
        expect(contact.fingerprint).toBe(localIdentity(bobNew).fingerprint)
        expect(contact.pendingKeyChange).toBeNull()
      })
    )
  )
})
