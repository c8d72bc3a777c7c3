/**
 * The key history and the pin per chain (issue 10, sections 2 and 3; PROTOCOL.md section 13.5) in
 * the real SQLite store: key1 -> key2 -> key1 is never accepted silently, an issuer change is a change,
 * `verifyContact` marks and a key change drops the mark, and a store made by migration 1 upgrades
 * with its contacts, its old key changes and its per-session code intact.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import { migrations } from "../../../src/layers/agent/store/migrations.js"
import { bob, carol, fingerprint, freshStore, openStore, tempDir } from "../store/helpers.js"

const CA_A = "a".repeat(64)
const CA_B = "b".repeat(64)
const chain = (issuer: string, serial: string) => ({ issuer, spki: "MCowBQYDK2VwAyEA", serial })
const own = fingerprint(99)

describe("key history (pin per chain)", () => {
  it.scoped("key1 -> key2 -> key1: the second change is held even in default mode, until trust", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [k1, k2] = [fingerprint(1), fingerprint(2)]
      yield* store.pinContact({ handle: bob, fingerprint: k1, chain: chain(CA_A, "01"), now: 10 })
      const first = yield* store.pinContact({
        handle: bob,
        fingerprint: k2,
        chain: chain(CA_A, "02"),
        now: 20,
        acceptChange: true
      })
      expect(first).toMatchObject({ _tag: "Changed", accepted: true, change: { returning: false } })
      const back = yield* store.pinContact({
        handle: bob,
        fingerprint: k1,
        chain: chain(CA_A, "01"),
        now: 30,
        acceptChange: true
      })
      expect(back).toMatchObject({
        _tag: "Changed",
        previous: k2,
        current: k1,
        accepted: false,
        change: { returning: true, status: "pending" }
      })
      const contact = yield* store.contact(bob)
      expect(contact).toMatchObject({
        fingerprint: k2,
        issuer: CA_A,
        pendingKeyChange: { current: k1, returning: true }
      })
      expect(contact?.lastKeyChange).toMatchObject({ seq: contact?.pendingKeyChange?.seq })
      const keys = yield* store.contactKeys(bob)
      expect(
        keys.map((k) => [k.fingerprint, k.issuer, k.serial, k.firstSeen, k.lastSeen, k.replacedAt, k.pinned])
      ).toEqual([
        [k1, CA_A, "01", 10, 30, 20, false],
        [k2, CA_A, "02", 20, 20, null, true]
      ])
      // The real current key still works meanwhile.
      expect(yield* store.pinContact({ handle: bob, fingerprint: k2, chain: chain(CA_A, "02"), now: 40 })).toEqual({
        _tag: "Same"
      })
      // The user decides: trusting the old key again moves the pin back and marks key2 replaced.
      yield* store.acceptKey({ handle: bob, now: 50 })
      const after = yield* store.contactKeys(bob)
      expect(after.map((k) => [k.fingerprint, k.replacedAt, k.pinned])).toEqual([
        [k1, null, true],
        [k2, 50, false]
      ])
      expect((yield* store.keyChanges(bob)).map((c) => [c.current, c.status, c.returning])).toEqual([
        [k2, "accepted", false],
        [k1, "accepted", true]
      ])
      expect(yield* store.keyChanges()).toHaveLength(2)
    })
  )

  it.scoped("the same key under another issuing CA is a change; a renewal (new serial) is not", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const k1 = fingerprint(1)
      yield* store.pinContact({ handle: bob, fingerprint: k1, chain: chain(CA_A, "01"), now: 1 })
      expect(yield* store.pinContact({ handle: bob, fingerprint: k1, chain: chain(CA_A, "0a"), now: 2 })).toEqual({
        _tag: "Same"
      })
      expect((yield* store.contactKeys(bob)).map((k) => k.serial)).toEqual(["0a"])
      const other = yield* store.pinContact({ handle: bob, fingerprint: k1, chain: chain(CA_B, "0b"), now: 3 })
      expect(other).toMatchObject({
        _tag: "Changed",
        accepted: false,
        change: { previous: k1, current: k1, previousIssuer: CA_A, currentIssuer: CA_B }
      })
    })
  )

  it.scoped("contact verify marks the pinned key; a key change drops the mark; a stale key is refused", () =>
    Effect.gen(function* () {
      const { store } = yield* freshStore()
      const [k1, k2] = [fingerprint(1), fingerprint(2)]
      yield* store.pinContact({ handle: bob, fingerprint: k1, chain: chain(CA_A, "01"), now: 1 })
      const stale = yield* Effect.flip(store.verifyContact({ handle: bob, fingerprint: k2, own, now: 2 }))
      expect(stale.reason).toBe("Conflict")
      expect((yield* Effect.flip(store.verifyContact({ handle: carol, fingerprint: k1, own, now: 2 }))).reason).toBe(
        "NotFound"
      )
      yield* store.verifyContact({ handle: bob, fingerprint: k1, own, now: 3 })
      expect(yield* store.contact(bob)).toMatchObject({ verifiedFingerprint: k1, verifiedOwn: own, verifiedAt: 3 })
      yield* store.pinContact({ handle: bob, fingerprint: k2, chain: chain(CA_A, "02"), now: 4, acceptChange: true })
      expect(yield* store.contact(bob)).toMatchObject({
        fingerprint: k2,
        verifiedFingerprint: null,
        verifiedOwn: null,
        verifiedAt: null,
        lastKeyChange: { current: k2, status: "accepted" }
      })
    })
  )
})

describe("store migration 2", () => {
  it.scoped("upgrades a store created by migration 1, keeping contacts, key changes and the session code", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, AgentStoreLive.DATABASE_FILE)
      const [k1, k2] = [fingerprint(1), fingerprint(2)]
      // A store as migration 1 left it: bob pinned on k2 after an accepted change from k1.
      const db = new Database(file)
      db.exec("CREATE TABLE agent_schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
      const first = migrations[0]
      if (first === undefined || first.id !== 1) throw new Error("migration 1 missing")
      for (const statement of first.statements) db.exec(statement)
      db.prepare("INSERT INTO agent_schema_migrations (id, name) VALUES (1, ?)").run(first.name)
      db.prepare(
        `INSERT INTO contacts (handle, fingerprint, pinned_at, last_handshake_at, verification_code, verification_code_at, created_at)
         VALUES (?, ?, 20, 25, '1111 2222 3333', 25, 1)`
      ).run(bob, k2)
      db.prepare(
        `INSERT INTO key_changes (handle, at, previous, current, status, resolved_at) VALUES (?, 20, ?, ?, 'accepted', 20)`
      ).run(bob, k1, k2)
      db.close()

      const store = yield* openStore(file)
      expect(yield* store.contact(bob)).toMatchObject({
        fingerprint: k2,
        issuer: "",
        spki: null,
        sessionCode: "1111 2222 3333",
        sessionCodeAt: 25,
        pendingKeyChange: null,
        lastKeyChange: { previous: k1, current: k2, status: "accepted", returning: false, previousIssuer: "" }
      })
      expect((yield* store.contactKeys(bob)).map((k) => [k.fingerprint, k.issuer, k.replacedAt, k.pinned])).toEqual([
        [k1, "", 20, false],
        [k2, "", null, true]
      ])
      // The first handshake after the upgrade learns the issuer of the pinned key: the same pin.
      expect(yield* store.pinContact({ handle: bob, fingerprint: k2, chain: chain(CA_A, "02"), now: 30 })).toEqual({
        _tag: "Same"
      })
      expect((yield* store.contactKeys(bob)).map((k) => [k.fingerprint, k.issuer, k.firstSeen, k.pinned])).toEqual([
        [k1, "", 20, false],
        [k2, CA_A, 20, true]
      ])
      // The key replaced before the upgrade coming back is caught too.
      const back = yield* store.pinContact({
        handle: bob,
        fingerprint: k1,
        chain: chain(CA_A, "01"),
        now: 40,
        acceptChange: true
      })
      expect(back).toMatchObject({ _tag: "Changed", accepted: false, change: { returning: true } })
    })
  )
})
