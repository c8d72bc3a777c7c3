/**
 * Two User Agents in one process over real TCP on loopback, each with its own SQLite store in a
 * temporary directory, found through a MemoryDirectory (issue 4, sections 1-2, 6).
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { makeTestPki } from "../../support/identities.js"
import * as MemoryDirectory from "../../support/MemoryDirectory.js"
import { eventually, fileStore, recordEvents, startAgent, tempDir } from "./helpers.js"

const pki = makeTestPki()
const anchors = [pki.caDer]
const aliceId = pki.identity("alice@example.org")
const bobId = pki.identity("bob@example.org")
const alice = Handle.make("alice@example.org")
const bob = Handle.make("bob@example.org")

const world = Effect.gen(function* () {
  const dir = yield* tempDir
  const directory = yield* MemoryDirectory.make
  const transport = yield* TcpTransport.make
  return { dir, directory, transport }
})

type World = Effect.Effect.Success<typeof world>

const start = (
  w: World,
  identity: typeof aliceId,
  name: string,
  options: { host?: string; retryBaseMs?: number; strictKeys?: boolean } = {}
) =>
  startAgent({
    identity,
    anchors,
    directory: w.directory,
    transport: w.transport,
    store: fileStore(join(w.dir, `${name}.db`), { retry: { baseMs: options.retryBaseMs ?? 50, maxMs: 400 } }),
    listen: [makeAddress(options.host ?? "127.0.0.1", 0)],
    options: { strictKeys: options.strictKeys ?? false }
  })

const stateOf = (a: { readonly agent: import("../../../src/services/Agent.js").AgentService }, id: string) =>
  Effect.map(a.agent.history({}), (h) => h.find((m) => m.id === id && m.direction === "out")?.state)

const delivered = (a: Parameters<typeof stateOf>[0], id: string) =>
  eventually(
    Effect.map(stateOf(a, id), (s) => (s === "delivered" || s === "read" ? s : undefined)),
    `${id} delivered`
  )

describe("two agents over TCP", () => {
  it.live("send both ways: stored, acknowledged, delivered; one session; matching verification codes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* start(w, aliceId, "alice")
        const b = yield* start(w, bobId, "bob", { host: "::1" })
        const m1 = yield* a.agent.send(bob, "hello bob")
        expect(m1.state).toBe("queued")
        yield* delivered(a, m1.id)
        const m2 = yield* b.agent.send(alice, "hello alice")
        yield* delivered(b, m2.id)

        const inbox = yield* b.agent.history({ peer: alice })
        expect(inbox.map((m) => [m.direction, m.body])).toEqual([
          ["in", "hello bob"],
          ["out", "hello alice"]
        ])
        const aliceSide = (yield* a.agent.status).sessions
        const bobSide = (yield* b.agent.status).sessions
        expect(aliceSide).toHaveLength(1)
        expect(bobSide).toHaveLength(1)
        expect(aliceSide[0]!.role).toBe("initiator")
        expect(bobSide[0]!.role).toBe("responder")
        expect(aliceSide[0]!.sessionCode).toBe(bobSide[0]!.sessionCode)
        const contact = yield* a.agent.contact(bob)
        expect(contact.fingerprint).toBe(aliceSide[0]!.fingerprint)
        expect(contact.sessionCode).toBe(aliceSide[0]!.sessionCode)

        // Read receipts travel back.
        expect(yield* b.agent.markRead(alice)).toBe(1)
        yield* eventually(
          Effect.map(stateOf(a, m1.id), (s) => (s === "read" ? s : undefined)),
          "the read receipt"
        )
      })
    )
  )

  it.live("receiver stopped: messages stay queued, then arrive exactly once after it restarts on a new port", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        // A long backoff: only the Directory watch can make the retry happen within the test.
        const a = yield* start(w, aliceId, "alice", { retryBaseMs: 600_000 })
        const b1 = yield* start(w, bobId, "bob")
        const first = yield* a.agent.send(bob, "before")
        yield* delivered(a, first.id)
        const oldAddress = w.directory.addressesOf(bob)
        const events = yield* recordEvents(a.agent)
        yield* b1.stop
        // Stopping an agent closes its sessions cleanly (`<Close/>`), not by cutting the connection.
        const down = yield* eventually(
          Effect.map(Queue.takeAll(events), (c) => [...c].find((e) => e._tag === "agent.SessionDown")),
          "alice to notice"
        )
        expect(down).toEqual({ _tag: "agent.SessionDown", peer: bob, reason: "closed by peer" })
        const queued = yield* Effect.forEach(["one", "two", "three"], (body) => a.agent.send(bob, body))
        // Every send tried at once and failed: they are all still in the outbox.
        yield* eventually(
          Effect.map(a.store.peersWithOutbox(), (p) => ((p[0]?.failures ?? 0) >= 1 ? p : undefined)),
          "a failed attempt"
        )
        const waiting = yield* a.store.outbox({ peer: bob })
        expect(waiting.map((m) => m.body)).toEqual(["one", "two", "three"])

        const b2 = yield* start(w, bobId, "bob")
        expect(w.directory.addressesOf(bob)).not.toEqual(oldAddress)
        for (const m of queued) yield* delivered(a, m.id)
        const got = (yield* b2.agent.history({ peer: alice })).filter((m) => m.direction === "in")
        expect(got.map((m) => m.body)).toEqual(["before", "one", "two", "three"])
        expect(new Set(got.map((m) => m.id)).size).toBe(4)
      })
    )
  )

  it.live("simultaneous sends with no session converge to one session both sides agree on", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* start(w, aliceId, "alice")
        const b = yield* start(w, bobId, "bob")
        const [ma, mb] = yield* Effect.all([a.agent.send(bob, "from alice"), b.agent.send(alice, "from bob")], {
          concurrency: "unbounded"
        })
        yield* delivered(a, ma.id)
        yield* delivered(b, mb.id)
        const pair = yield* eventually(
          Effect.gen(function* () {
            const sa = (yield* a.agent.status).sessions
            const sb = (yield* b.agent.status).sessions
            return sa.length === 1 && sb.length === 1 && sa[0]!.sessionCode === sb[0]!.sessionCode
              ? ([sa[0]!, sb[0]!] as const)
              : undefined
          }),
          "one shared session"
        )
        expect(pair[0].role).not.toBe(pair[1].role)
        // Exactly one copy each way.
        const inA = (yield* a.agent.history({})).filter((m) => m.direction === "in")
        const inB = (yield* b.agent.history({})).filter((m) => m.direction === "in")
        expect(inA.map((m) => m.body)).toEqual(["from bob"])
        expect(inB.map((m) => m.body)).toEqual(["from alice"])
      })
    )
  )
})
