/**
 * The pinned roots of foreign domains in the agent store (PROTOCOL.md §22.3.3; store migration 7), on real
 * SQLite files: first use pins, the same root is nothing, another root is a domain key change (accepted at
 * once, or held until `acceptDomainRoot`), each reported once; and a store of migration 6 upgrades
 * keeping its contacts, keys and messages.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import type { DomainName, PresentedRoot } from "../../../src/domain/agent/domainRoots.js"
import { domainArgument } from "../../../src/domain/agent/domainRoots.js"
import { migrations } from "../../../src/layers/agent/store/migrations.js"
import { bob, drain, fingerprint, freshStore, newId, openStore, tempDir } from "../store/helpers.js"

const otherNet = "other.net" as DomainName
const root = (n: number): PresentedRoot => ({
  fingerprint: fingerprint(n),
  der: new Uint8Array([0x30, n]),
  subject: `CN=other.net SixChat Root CA ${n}, O=other.net`
})

describe("pinned domain roots", () => {
  it("`trust @D` names a domain; anything else is not one", () => {
    expect(domainArgument("@Other.NET")).toBe("other.net")
    expect(domainArgument("@other.net.")).toBe("other.net")
    expect(domainArgument("other.net")).toBeUndefined()
    expect(domainArgument("@localhost")).toBeUndefined()
    expect(domainArgument("@bad_name.net")).toBeUndefined()
  })

  it.scoped("first use pins; the same root changes nothing; another root is accepted at once and recorded", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const events = yield* store.subscribe
      expect(yield* store.observeDomainRoot({ domain: otherNet, root: root(1), now: 10, acceptChange: true })).toEqual({
        _tag: "New"
      })
      expect(yield* store.observeDomainRoot({ domain: otherNet, root: root(1), now: 20, acceptChange: true })).toEqual({
        _tag: "Same"
      })
      const pin = (yield* store.domainPin(otherNet))!
      expect(pin).toMatchObject({ fingerprint: fingerprint(1), firstSeen: 10, changedAt: null, previous: null })
      expect(Buffer.from(pin.root, "base64")).toEqual(Buffer.from([0x30, 1]))
      const changed = yield* store.observeDomainRoot({ domain: otherNet, root: root(2), now: 30, acceptChange: true })
      expect(changed).toMatchObject({ _tag: "Changed", accepted: true, change: { status: "accepted", resolvedAt: 30 } })
      expect(yield* store.domainPin(otherNet)).toMatchObject({
        fingerprint: fingerprint(2),
        firstSeen: 10,
        changedAt: 30,
        previous: fingerprint(1),
        pendingChange: null
      })
      expect(yield* store.domainKeyChanges()).toMatchObject([
        { domain: "other.net", previous: fingerprint(1), current: fingerprint(2), status: "accepted" }
      ])
      expect((yield* drain(events)).filter((e) => e._tag === "agent.DomainKeyChanged")).toHaveLength(1)
      expect(yield* store.domainPins()).toHaveLength(1)
    })
  )

  it.scoped("strict: another root is held (once), the pin stays until acceptDomainRoot", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const events = yield* store.subscribe
      yield* store.observeDomainRoot({ domain: otherNet, root: root(1), now: 10 })
      const held = yield* store.observeDomainRoot({ domain: otherNet, root: root(2), now: 20 })
      expect(held).toMatchObject({ _tag: "Changed", accepted: false, change: { status: "pending" } })
      // Seen again: the same change, not a second one, and no second event.
      yield* store.observeDomainRoot({ domain: otherNet, root: root(2), now: 25 })
      expect(yield* store.domainKeyChanges(otherNet)).toHaveLength(1)
      expect(yield* store.domainPin(otherNet)).toMatchObject({
        fingerprint: fingerprint(1),
        pendingChange: { current: fingerprint(2), status: "pending" }
      })
      const accepted = yield* store.acceptDomainRoot({ domain: otherNet, now: 30 })
      expect(accepted).toMatchObject({ status: "accepted", resolvedAt: 30 })
      expect(yield* store.domainPin(otherNet)).toMatchObject({ fingerprint: fingerprint(2), pendingChange: null })
      expect(Buffer.from((yield* store.domainPin(otherNet))!.root, "base64")).toEqual(Buffer.from([0x30, 2]))
      expect(
        (yield* drain(events)).filter((e) => e._tag === "agent.DomainKeyChanged").map((e) => e.change.status)
      ).toEqual(["pending", "accepted"])
      expect((yield* Effect.flip(store.acceptDomainRoot({ domain: otherNet, now: 40 }))).reason).toBe("NoKeyChange")
      expect((yield* Effect.flip(store.acceptDomainRoot({ domain: "else.net" as DomainName, now: 40 }))).reason).toBe(
        "NotFound"
      )
    })
  )

  it.scoped("migration 7: a store of migration 6 keeps its contacts and messages and can pin domains", () =>
    Effect.gen(function* () {
      const file = join(yield* tempDir, "agent.db")
      const db = new Database(file)
      for (const m of migrations.filter((m) => m.id <= 6)) for (const s of m.statements) db.exec(s)
      db.exec("CREATE TABLE agent_schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
      db.exec("INSERT INTO agent_schema_migrations (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (5, 'e'), (6, 'f')")
      db.prepare(
        "INSERT INTO contacts (handle, fingerprint, pinned_issuer, pinned_at, created_at) VALUES (?, ?, '', 1, 0)"
      ).run(bob, fingerprint(9))
      const id = newId()
      db.prepare(
        `INSERT INTO messages (seq, id, peer, direction, body, state, at, created_at) VALUES (4, ?, ?, 'out', 'hi', 'queued', 5, 5)`
      ).run(id, bob)
      db.close()

      const store = yield* openStore(file)
      expect((yield* store.contact(bob))?.fingerprint).toBe(fingerprint(9))
      expect((yield* store.outbox()).map((m) => [m.seq, m.id])).toEqual([[4, id]])
      expect(yield* store.domainPins()).toEqual([])
      expect(yield* store.observeDomainRoot({ domain: otherNet, root: root(1), now: 10 })).toEqual({ _tag: "New" })
      const check = new Database(file, { readonly: true })
      const applied = check.prepare("SELECT id FROM agent_schema_migrations ORDER BY id").all() as Array<{ id: number }>
      check.close()
      expect(applied.map((r) => r.id)).toEqual([1, 2, 3, 5, 6, 7])
    })
  )
})
