/**
 * The one storage suite for `IrpRegistry` (issue 3, section 3: "The same test suite runs against
 * both"). `registrySuite` is called once per dialect with a layer providing the registry on a fresh
 * database; tests share that database and keep apart by using handles of their own.
 */
import { expect, layer } from "@effect/vitest"
import { Clock, Effect, Either, type Layer, Queue, type Scope, TestClock } from "effect"
import { type Address, Fingerprint, Handle, makeAddress } from "../../../src/domain/brands.js"
import { type CertificateRecord, SerialHex } from "../../../src/domain/irp/certificates.js"
import {
  type Addresses,
  DeviceId,
  defaultLeasePolicy,
  MAX_SEQ,
  type RegistryChange,
  type RegistryError,
  Seq
} from "../../../src/domain/irp/registry.js"
import { IrpRegistry, type IrpRegistryService } from "../../../src/services/IrpRegistry.js"

let counter = 0
/** A handle no other test uses. */
export const freshHandle = (name: string): Handle => Handle.make(`${name}-${++counter}@example.org`)
const device = (id: string) => DeviceId.make(id)
const seq = (n: bigint | number) => Seq.make(BigInt(n))
const addrs = (...ports: ReadonlyArray<number>): Addresses => {
  const [first, ...rest] = ports.map((p): Address => makeAddress("2001:db8::1", p))
  return [first!, ...rest]
}
const tokenHash = (fill: number) => new Uint8Array(32).fill(fill)
let tokenCounter = 0
/** A token hash no other test uses (32 bytes, like a SHA-256). */
const freshTokenHash = () => {
  const h = tokenHash(0)
  new DataView(h.buffer).setUint32(0, ++tokenCounter)
  return h
}

/** The reason of a failed registry call (the test fails if it succeeded). */
const reasonOf = <A>(effect: Effect.Effect<A, RegistryError>) => Effect.flip(effect).pipe(Effect.map((e) => e.reason))

/**
 * Takes the next change, failing after `ms` of wall-clock time: PostgreSQL notifications arrive over
 * real I/O, so a missing one must end the test rather than hang it (TestClock does not move here).
 */
export const nextChange = (queue: Queue.Dequeue<RegistryChange>, ms = 5000) =>
  Effect.raceFirst(
    Queue.take(queue),
    Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms))).pipe(
      Effect.zipRight(Effect.dieMessage(`no registry change arrived within ${ms} ms`))
    )
  )

const certificate = (handle: Handle, serial: string, notBefore: number, notAfter: number): CertificateRecord => ({
  serial: SerialHex.make(serial),
  handle,
  fingerprint: Fingerprint.make(serial.padStart(64, "0").slice(-64)),
  der: new Uint8Array([0x30, 0x03, 0x02, 0x01, Number.parseInt(serial.slice(-2), 16)]),
  notBefore,
  notAfter,
  status: "good"
})

export interface SuiteOptions<R> {
  /**
   * Builds a second registry on the same database, standing for another server process (its own
   * pool and connections). Given only for dialects that support several processes.
   */
  readonly anotherProcess?: Effect.Effect<IrpRegistryService, unknown, Scope.Scope | R> | undefined
}

export const registrySuite = <R>(
  name: string,
  registryLayer: Layer.Layer<IrpRegistry | R, unknown>,
  options: SuiteOptions<R> = {}
) =>
  layer(registryLayer, { timeout: "30 seconds" })(name, (it) => {
    it.effect("a token is consumed once, by its own handle, before it expires", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const alice = freshHandle("alice")
        const hash = freshTokenHash()
        yield* registry.createToken({ handle: alice, tokenHash: hash, expiresAt: now + 60_000 })
        expect(yield* reasonOf(registry.createToken({ handle: alice, tokenHash: hash, expiresAt: now + 1 }))).toBe(
          "Conflict"
        )
        // Another handle cannot use it, and trying does not burn it.
        expect(yield* reasonOf(registry.consumeToken({ tokenHash: hash, handle: freshHandle("mallory"), now }))).toBe(
          "TokenWrongHandle"
        )
        expect(yield* registry.consumeToken({ tokenHash: hash, handle: alice, now })).toBe(alice)
        expect(yield* reasonOf(registry.consumeToken({ tokenHash: hash, handle: alice, now }))).toBe("TokenUsed")
        expect(yield* reasonOf(registry.consumeToken({ tokenHash: freshTokenHash(), handle: alice, now }))).toBe(
          "TokenNotFound"
        )
      })
    )

    it.effect("an expired token is refused", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const bob = freshHandle("bob")
        const hash = freshTokenHash()
        yield* registry.createToken({ handle: bob, tokenHash: hash, expiresAt: now + 60_000 })
        yield* TestClock.adjust("60 seconds")
        const later = yield* Clock.currentTimeMillis
        expect(yield* reasonOf(registry.consumeToken({ tokenHash: hash, handle: bob, now: later }))).toBe(
          "TokenExpired"
        )
      })
    )

    it.effect("50 racing consumers of one token: exactly one wins", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const carol = freshHandle("carol")
        const hash = freshTokenHash()
        yield* registry.createToken({ handle: carol, tokenHash: hash, expiresAt: now + 60_000 })
        const results = yield* Effect.all(
          Array.from({ length: 50 }, () =>
            Effect.either(registry.consumeToken({ tokenHash: hash, handle: carol, now }))
          ),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isRight)).toHaveLength(1)
        const losers = results.filter(Either.isLeft).map((r) => r.left.reason)
        expect(losers).toEqual(Array.from({ length: 49 }, () => "TokenUsed"))
      })
    )

    it.effect("register answers with every unexpired binding; lookup returns them", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const dave = freshHandle("dave")
        const observed = makeAddress("198.51.100.7", 40000)
        const first = yield* registry.register({
          handle: dave,
          deviceId: device("laptop"),
          addresses: addrs(4605, 4606),
          ttlSeconds: 300,
          seq: seq(1),
          observed,
          now
        })
        expect(first).toEqual([
          {
            deviceId: "laptop",
            addresses: addrs(4605, 4606),
            expiresAt: now + 300_000,
            seq: 1n,
            observed,
            updatedAt: now
          }
        ])
        const both = yield* registry.register({
          handle: dave,
          deviceId: device("phone"),
          addresses: addrs(4605),
          ttlSeconds: 60,
          seq: seq(7),
          observed: undefined,
          now
        })
        expect(both.map((b) => [b.deviceId, b.seq, b.observed])).toEqual([
          ["laptop", 1n, observed],
          ["phone", 7n, undefined]
        ])
        expect(yield* registry.lookup({ handle: dave, now })).toEqual(both)
        expect(yield* registry.lookup({ handle: freshHandle("nobody"), now })).toEqual([])
      })
    )

    it.effect("seq must grow per device: stale and replayed registrations are refused and change nothing", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const erin = freshHandle("erin")
        const reg = (n: bigint, port: number) =>
          registry.register({
            handle: erin,
            deviceId: device("d1"),
            addresses: addrs(port),
            ttlSeconds: 60,
            seq: seq(n),
            observed: undefined,
            now
          })
        yield* reg(5n, 1005)
        expect(yield* reasonOf(reg(5n, 2005))).toBe("StaleSequence")
        expect(yield* reasonOf(reg(4n, 2004))).toBe("StaleSequence")
        expect((yield* registry.lookup({ handle: erin, now }))[0]?.addresses).toEqual(addrs(1005))
        // Another device has its own sequence.
        yield* registry.register({
          handle: erin,
          deviceId: device("d2"),
          addresses: addrs(9),
          ttlSeconds: 60,
          seq: seq(0),
          observed: undefined,
          now
        })
        // The largest seq survives the round trip exactly (past 2^53).
        const top = yield* reg(MAX_SEQ, 1006)
        expect(top.find((b) => b.deviceId === "d1")?.seq).toBe(MAX_SEQ)
        expect(yield* reasonOf(reg(MAX_SEQ, 1007))).toBe("StaleSequence")
      })
    )

    it.effect("30 racing registrations for one device keep the highest seq", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const frank = freshHandle("frank")
        // Distinct random seqs; each registration's port is derived from its seq so we can tell who won.
        const seqs = [...new Set(Array.from({ length: 30 }, () => 1 + Math.floor(Math.random() * 1_000_000)))]
        const results = yield* Effect.all(
          seqs.map((n) =>
            Effect.either(
              registry.register({
                handle: frank,
                deviceId: device("racer"),
                addresses: addrs(1 + (n % 65535)),
                ttlSeconds: 60,
                seq: seq(n),
                observed: undefined,
                now
              })
            )
          ),
          { concurrency: "unbounded" }
        )
        for (const r of results) if (Either.isLeft(r)) expect(r.left.reason).toBe("StaleSequence")
        const highest = Math.max(...seqs)
        const [binding] = yield* registry.lookup({ handle: frank, now })
        expect(binding?.seq).toBe(BigInt(highest))
        expect(binding?.addresses).toEqual(addrs(1 + (highest % 65535)))
      })
    )

    it.effect("registrations that share a transaction (group commit) each get their own answer", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        // 40 at once, across 8 handles with 5 devices each; every third one repeats a seq already stored.
        const handles = Array.from({ length: 8 }, (_, i) => freshHandle(`batch${i}`))
        for (const handle of handles)
          yield* registry.register({
            handle,
            deviceId: device("d0"),
            addresses: addrs(1),
            ttlSeconds: 60,
            seq: seq(100),
            observed: undefined,
            now
          })
        const jobs = Array.from({ length: 40 }, (_, i) => ({
          handle: handles[i % 8]!,
          deviceId: device(`d${Math.floor(i / 8)}`),
          stale: i % 3 === 0 && Math.floor(i / 8) === 0,
          port: 1000 + i
        }))
        const results = yield* Effect.all(
          jobs.map((job) =>
            Effect.either(
              registry.register({
                handle: job.handle,
                deviceId: job.deviceId,
                addresses: addrs(job.port),
                ttlSeconds: 60,
                seq: seq(job.stale ? 100 : 200),
                observed: undefined,
                now
              })
            )
          ),
          { concurrency: "unbounded" }
        )
        results.forEach((result, i) => {
          const job = jobs[i]!
          if (job.stale) {
            expect(Either.isLeft(result) && result.left.reason).toBe("StaleSequence")
            return
          }
          // Its own answer: its handle's bindings, its own device among them with its own address.
          expect(Either.isRight(result)).toBe(true)
          const mine = Either.getOrThrow(result).find((b) => b.deviceId === job.deviceId)
          expect(mine?.addresses).toEqual(addrs(job.port))
        })
        for (const [h, handle] of handles.entries()) {
          const stored = yield* registry.lookup({ handle, now })
          expect(stored.length).toBe(5)
          const d0 = stored.find((b) => b.deviceId === device("d0"))
          expect(d0?.seq).toBe(BigInt(h % 3 === 0 ? 100 : 200))
        }
      })
    )

    it.effect("in one batch, a handle's later registrations see its earlier ones (cap, answers, stale seq)", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const ivy = freshHandle("ivy")
        const cap = defaultLeasePolicy.maxDevicesPerHandle
        const reg = (id: string, n: number) =>
          registry.register({
            handle: ivy,
            deviceId: device(id),
            addresses: addrs(n),
            ttlSeconds: 600,
            seq: seq(n),
            observed: undefined,
            now
          })
        for (let i = 0; i < cap - 2; i++) yield* reg(`d${i}`, 10)
        // Started together, so they share a batch (or a few): two fill the cap, the third finds it full; a
        // replay of d0's stored seq is refused and names the stored one; a new seq for d0 is taken.
        const [a, b, c, replay, renew] = yield* Effect.all(
          [
            Effect.either(reg("new-a", 20)),
            Effect.either(reg("new-b", 20)),
            Effect.either(reg("new-c", 20)),
            Effect.either(reg("d0", 10)),
            Effect.either(reg("d0", 30))
          ],
          { concurrency: "unbounded" }
        )
        const fresh = [a, b, c]
        const stored = fresh.flatMap((r) => (Either.isRight(r) ? [r.right] : []))
        expect(stored).toHaveLength(2)
        expect(fresh.filter((r) => Either.isLeft(r) && r.left.reason === "TooManyDevices")).toHaveLength(1)
        // Every answer holds the bindings as they are after it: the second new device's holds the first.
        expect(stored.map((bindings) => bindings.length).sort()).toEqual([cap - 1, cap])
        expect(Either.isLeft(replay) && replay.left.reason).toBe("StaleSequence")
        // The stored seq it names: 10, or 30 if the renewal went first (PostgreSQL runs batches side by side).
        expect(Either.isLeft(replay) && replay.left.message).toMatch(/not greater than the stored (10|30):/)
        expect(Either.isRight(renew) && renew.right.find((x) => x.deviceId === device("d0"))?.seq).toBe(30n)
        expect((yield* registry.lookup({ handle: ivy, now })).length).toBe(cap)
      })
    )

    it.effect("leases outside the policy's bounds are refused", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const gina = freshHandle("gina")
        const reg = (ttlSeconds: number, n: number) =>
          registry.register({
            handle: gina,
            deviceId: device("d"),
            addresses: addrs(1),
            ttlSeconds,
            seq: seq(n),
            observed: undefined,
            now
          })
        expect(yield* reasonOf(reg(defaultLeasePolicy.minTtlSeconds - 1, 1))).toBe("LeaseTooShort")
        expect(yield* reasonOf(reg(Number.NaN, 1))).toBe("LeaseTooShort")
        expect(yield* reasonOf(reg(defaultLeasePolicy.maxTtlSeconds + 1, 1))).toBe("LeaseTooLong")
        expect(yield* registry.lookup({ handle: gina, now })).toEqual([])
        expect((yield* reg(defaultLeasePolicy.minTtlSeconds, 1))[0]?.expiresAt).toBe(now + 30_000)
        expect((yield* reg(defaultLeasePolicy.maxTtlSeconds, 2))[0]?.expiresAt).toBe(now + 3_600_000)
      })
    )

    it.effect("the device cap counts only other devices' unexpired bindings", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const hank = freshHandle("hank")
        const cap = defaultLeasePolicy.maxDevicesPerHandle
        const reg = (id: string, n: number, ttlSeconds: number, at: number) =>
          registry.register({
            handle: hank,
            deviceId: device(id),
            addresses: addrs(n),
            ttlSeconds,
            seq: seq(n),
            observed: undefined,
            now: at
          })
        yield* reg("short", 1, 30, now)
        for (let i = 1; i < cap; i++) yield* reg(`d${i}`, 1, 600, now)
        expect(yield* reasonOf(reg("extra", 1, 600, now))).toBe("TooManyDevices")
        // A device already registered may renew at the cap.
        expect(yield* reg("d1", 2, 600, now)).toHaveLength(cap)
        // Once one lease expires there is room again.
        yield* TestClock.adjust("31 seconds")
        const later = yield* Clock.currentTimeMillis
        expect(yield* reg("extra", 1, 600, later)).toHaveLength(cap)
      })
    )

    it.effect("an expired binding is never returned (TestClock)", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const ivy = freshHandle("ivy")
        const start = yield* Clock.currentTimeMillis
        const reg = (id: string, ttlSeconds: number, at: number) =>
          registry.register({
            handle: ivy,
            deviceId: device(id),
            addresses: addrs(1),
            ttlSeconds,
            seq: seq(at + 1),
            observed: undefined,
            now: at
          })
        yield* reg("brief", 30, start)
        yield* TestClock.adjust("29 seconds")
        expect((yield* registry.lookup({ handle: ivy, now: yield* Clock.currentTimeMillis })).length).toBe(1)
        yield* TestClock.adjust("1 second")
        const expiry = yield* Clock.currentTimeMillis
        expect(yield* registry.lookup({ handle: ivy, now: expiry })).toEqual([])
        // Nor in another device's register answer.
        expect((yield* reg("other", 60, expiry)).map((b) => b.deviceId)).toEqual(["other"])
      })
    )

    it.effect("deregister ends one lease or all, keeps the seq, and purge forgets it after the retention", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const jack = freshHandle("jack")
        const reg = (id: string, n: number, at = now) =>
          registry.register({
            handle: jack,
            deviceId: device(id),
            addresses: addrs(n),
            ttlSeconds: 60,
            seq: seq(n),
            observed: undefined,
            now: at
          })
        yield* reg("a", 10)
        yield* reg("b", 10)
        yield* reg("c", 10)
        expect(yield* registry.deregister({ handle: jack, deviceId: device("a"), now })).toBe(1)
        expect((yield* registry.lookup({ handle: jack, now })).map((b) => b.deviceId)).toEqual(["b", "c"])
        expect(yield* registry.deregister({ handle: jack, deviceId: device("a"), now })).toBe(0)
        expect(yield* registry.deregister({ handle: jack, deviceId: "all", now })).toBe(2)
        expect(yield* registry.lookup({ handle: jack, now })).toEqual([])
        // The replay of an old registration is still refused; a newer one is welcome.
        expect(yield* reasonOf(reg("a", 10))).toBe("StaleSequence")
        expect(yield* reg("a", 11)).toHaveLength(1)
        // After the retention period the rows go, and with them the sequence high-water marks.
        yield* TestClock.adjust(`${defaultLeasePolicy.retainExpiredSeconds + 120} seconds`)
        const later = yield* Clock.currentTimeMillis
        const purged = yield* registry.purgeExpired(later)
        expect(purged.bindings).toBeGreaterThanOrEqual(3)
        expect(yield* reg("b", 1, later)).toHaveLength(1)
      })
    )

    it.effect("purgeExpired removes used and expired tokens", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const kim = freshHandle("kim")
        const used = freshTokenHash()
        const live = freshTokenHash()
        yield* registry.createToken({ handle: kim, tokenHash: used, expiresAt: now + 60_000 })
        yield* registry.createToken({ handle: kim, tokenHash: live, expiresAt: now + 60_000 })
        yield* registry.consumeToken({ tokenHash: used, handle: kim, now })
        const purged = yield* registry.purgeExpired(now)
        expect(purged.tokens).toBeGreaterThanOrEqual(1)
        expect(yield* reasonOf(registry.consumeToken({ tokenHash: used, handle: kim, now }))).toBe("TokenNotFound")
        expect(yield* registry.consumeToken({ tokenHash: live, handle: kim, now })).toBe(kim)
      })
    )

    it.effect("certificates: record, current, revoke, status, CRL entries", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const lena = freshHandle("lena")
        const base = 0x1000 + counter * 16
        const serial = (k: number) => (base + k).toString(16)
        const day = 86_400_000
        const old = certificate(lena, serial(1), now - 10 * day, now + 300 * day)
        const newer = certificate(lena, serial(2), now - day, now + 365 * day)
        const expired = certificate(lena, serial(3), now - 400 * day, now - day)
        for (const c of [old, newer, expired]) yield* registry.recordCertificate(c)
        expect(yield* reasonOf(registry.recordCertificate(old))).toBe("Conflict")
        expect(yield* registry.certificateBySerial(old.serial)).toEqual(old)
        expect(yield* registry.certificateBySerial(SerialHex.make("ffffffffff"))).toBeUndefined()
        expect((yield* registry.currentCertificate({ handle: lena, now }))?.serial).toBe(newer.serial)
        expect(yield* registry.status(newer.serial)).toEqual({ serial: newer.serial, status: "good" })
        expect(yield* registry.status(SerialHex.make("ffffffffff"))).toEqual({
          serial: "ffffffffff",
          status: "unknown"
        })

        const revoked = yield* registry.revoke({ serial: newer.serial, reason: "keyCompromise", at: now })
        expect(revoked).toEqual({ ...newer, status: "revoked", revokedAt: now, reason: "keyCompromise" })
        // Revoking again changes nothing.
        yield* registry.revoke({ serial: newer.serial, reason: "superseded", at: now + 5 })
        expect(yield* registry.status(newer.serial)).toEqual({
          serial: newer.serial,
          status: "revoked",
          revokedAt: now,
          reason: "keyCompromise"
        })
        expect(
          yield* reasonOf(registry.revoke({ serial: SerialHex.make("ffffffffff"), reason: "unspecified", at: now }))
        ).toBe("NotFound")
        expect((yield* registry.currentCertificate({ handle: lena, now }))?.serial).toBe(old.serial)

        const all = yield* registry.revokeHandle({ handle: lena, reason: "cessationOfOperation", at: now + 10 })
        expect(all.map((c) => c.serial).sort()).toEqual([old.serial, expired.serial].sort())
        expect(yield* registry.currentCertificate({ handle: lena, now })).toBeUndefined()
        const crl = (yield* registry.revokedCertificates()).filter((e) => e.handle === lena)
        expect(crl.map((e) => [e.serial, e.reason])).toEqual(
          expect.arrayContaining([
            [newer.serial, "keyCompromise"],
            [old.serial, "cessationOfOperation"],
            [expired.serial, "cessationOfOperation"]
          ])
        )
        expect(crl[0]?.serial).toBe(newer.serial) // oldest revocation first
      })
    )

    it.effect(
      "currentIdentity (and currentIdentityNow): the current certificate with its unexpired bindings, in one read",
      () =>
        Effect.gen(function* () {
          const registry = yield* IrpRegistry
          const now = yield* Clock.currentTimeMillis
          // Every read twice where the storage also reads synchronously (SQLite): both must agree.
          const readNow = registry.currentIdentityNow
          const identity = (input: { readonly handle: Handle; readonly now: number }) =>
            Effect.tap(registry.currentIdentity(input), (read) => {
              if (readNow !== undefined) expect(readNow(input)).toEqual(read)
            })
          const olga = freshHandle("olga")
          const day = 86_400_000
          const serial = (k: number) => (0xb000 + counter * 16 + k).toString(16)
          // No certificate: nothing, even with bindings.
          const reg = (id: string, ttlSeconds: number, n: number) =>
            registry.register({
              handle: olga,
              deviceId: device(id),
              addresses: addrs(4600 + n),
              ttlSeconds,
              seq: seq(n),
              observed: makeAddress("198.51.100.7", 40000),
              now
            })
          yield* reg("phone", 60, 1)
          expect(yield* identity({ handle: olga, now })).toEqual({ certificate: undefined, bindings: [] })
          const older = certificate(olga, serial(1), now - 10 * day, now + 300 * day)
          const current = certificate(olga, serial(2), now - day, now + 365 * day)
          for (const c of [older, current]) yield* registry.recordCertificate(c)
          const laptop = yield* reg("laptop", 300, 2)
          // Both bindings, ordered by device id, exactly as `lookup` returns them.
          const both = yield* identity({ handle: olga, now })
          expect(both).toEqual({ certificate: current, bindings: laptop })
          expect(both.bindings).toEqual(yield* registry.lookup({ handle: olga, now }))
          expect(both.bindings.map((b) => b.deviceId)).toEqual(["laptop", "phone"])
          // The phone's lease ends first; then the laptop's; the certificate stays.
          const later = yield* identity({ handle: olga, now: now + 60_000 })
          expect([later.certificate?.serial, later.bindings.map((b) => b.deviceId)]).toEqual([
            current.serial,
            ["laptop"]
          ])
          expect((yield* identity({ handle: olga, now: now + 300_000 })).bindings).toEqual([])
          // Revoked: the older certificate is current again; a handle with none left has nothing.
          yield* registry.revoke({ serial: current.serial, reason: "superseded", at: now })
          expect((yield* identity({ handle: olga, now })).certificate).toEqual(older)
          yield* registry.revokeHandle({ handle: olga, reason: "unspecified", at: now })
          expect(yield* identity({ handle: olga, now })).toEqual({ certificate: undefined, bindings: [] })
          expect(yield* identity({ handle: freshHandle("nobody"), now })).toEqual({
            certificate: undefined,
            bindings: []
          })
        })
    )

    it.effect("many currentIdentity reads at once (PostgreSQL batches them) each get their own handle's state", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const day = 86_400_000
        // Six handles: four with a certificate and 0 to 3 bindings, one with a certificate only, one with nothing.
        const handles = Array.from({ length: 6 }, (_, i) => freshHandle(`many${i}`))
        const expected: Array<{ readonly serial: string | undefined; readonly devices: ReadonlyArray<string> }> = []
        for (const [i, handle] of handles.entries()) {
          const serial = (0xc000 + counter * 16 + i).toString(16)
          if (i < 5) yield* registry.recordCertificate(certificate(handle, serial, now - day, now + day))
          const devices = i < 4 ? Array.from({ length: i }, (_, k) => `dev${k}`) : []
          for (const d of devices)
            yield* registry.register({
              handle,
              deviceId: device(d),
              addresses: addrs(5000 + i),
              ttlSeconds: 60,
              seq: seq(1),
              observed: undefined,
              now
            })
          expected.push({ serial: i < 5 ? serial : undefined, devices })
        }
        const reads = yield* Effect.all(
          Array.from({ length: 48 }, (_, n) => registry.currentIdentity({ handle: handles[n % 6]!, now })),
          { concurrency: "unbounded" }
        )
        reads.forEach((read, n) => {
          const want = expected[n % 6]!
          expect(read.certificate?.serial).toBe(want.serial)
          expect(read.certificate?.handle ?? handles[n % 6]).toBe(handles[n % 6])
          expect(read.bindings.map((b) => b.deviceId)).toEqual(want.devices)
          for (const b of read.bindings) expect(b.addresses).toEqual(addrs(5000 + (n % 6)))
        })
      })
    )

    // (Refusals tell nothing either; that is not checked here because on PostgreSQL a change is told
    // twice, the second time when its notice comes back, possibly after a later refusal.)
    it.scoped("onChange hears this process's writes before they return", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const heard: Array<RegistryChange> = []
        yield* registry.onChange({ changed: (c) => heard.push(c), lost: () => {} })
        const pia = freshHandle("pia")
        const mine = () => heard.filter((c) => c.handle === pia)
        yield* registry.register({
          handle: pia,
          deviceId: device("d"),
          addresses: addrs(1),
          ttlSeconds: 60,
          seq: seq(1),
          observed: undefined,
          now
        })
        expect(mine()).toContainEqual({ handle: pia, kind: "bindings" })
        const cert = certificate(pia, (0xc000 + counter).toString(16), now, now + 1000)
        yield* registry.recordCertificate(cert)
        expect(mine()).toContainEqual({ handle: pia, kind: "certificate" })
      })
    )

    it.scoped("the change feed fires on register, deregister and revocation, not on refusals", () =>
      Effect.gen(function* () {
        const registry = yield* IrpRegistry
        const now = yield* Clock.currentTimeMillis
        const feed = yield* registry.subscribe
        const mona = freshHandle("mona")
        const reg = (n: number) =>
          registry.register({
            handle: mona,
            deviceId: device("d"),
            addresses: addrs(n),
            ttlSeconds: 60,
            seq: seq(n),
            observed: undefined,
            now
          })
        // Other tests' changes may be in flight: look only at ours.
        const next = Effect.repeat(nextChange(feed), { until: (c) => c.handle === mona })
        yield* reg(2)
        expect(yield* next).toEqual({ handle: mona, kind: "bindings" })
        // Refused (stale): no change. Had it announced one, the next expectations would be off by one.
        yield* Effect.either(reg(1))
        yield* registry.deregister({ handle: mona, deviceId: "all", now })
        expect(yield* next).toEqual({ handle: mona, kind: "bindings" })
        const cert = certificate(mona, (0x9000 + counter).toString(16), now, now + 1000)
        yield* registry.recordCertificate(cert)
        expect(yield* next).toEqual({ handle: mona, kind: "certificate" })
        yield* registry.revoke({ serial: cert.serial, reason: "unspecified", at: now })
        // A revocation names the serial (issue 10 §2: watchers re-check that certificate).
        expect(yield* next).toEqual({ handle: mona, kind: "certificate", revokedSerial: cert.serial })
      })
    )

    const anotherProcess = options.anotherProcess
    if (anotherProcess !== undefined) {
      it.scoped("another process's changes reach this one's lookups and change feed", () =>
        Effect.gen(function* () {
          const here = yield* IrpRegistry
          const there = yield* anotherProcess
          const now = yield* Clock.currentTimeMillis
          const feed = yield* here.subscribe
          const heard: Array<RegistryChange> = []
          yield* here.onChange({ changed: (c) => heard.push(c), lost: () => {} })
          const nina = freshHandle("nina")
          yield* there.register({
            handle: nina,
            deviceId: device("d"),
            addresses: addrs(4605),
            ttlSeconds: 60,
            seq: seq(1),
            observed: undefined,
            now
          })
          expect(yield* Effect.repeat(nextChange(feed), { until: (c) => c.handle === nina })).toEqual({
            handle: nina,
            kind: "bindings"
          })
          // onChange listeners hear it first.
          expect(heard).toContainEqual({ handle: nina, kind: "bindings" })
          expect((yield* here.lookup({ handle: nina, now })).map((b) => b.addresses)).toEqual([addrs(4605)])
          // The two processes share one sequence per device.
          expect(
            yield* reasonOf(
              here.register({
                handle: nina,
                deviceId: device("d"),
                addresses: addrs(1),
                ttlSeconds: 60,
                seq: seq(1),
                observed: undefined,
                now
              })
            )
          ).toBe("StaleSequence")
          // 50 consumers racing through both processes: one winner.
          const hash = freshTokenHash()
          yield* here.createToken({ handle: nina, tokenHash: hash, expiresAt: now + 60_000 })
          const racers = Array.from({ length: 50 }, (_, i) =>
            Effect.either((i % 2 === 0 ? here : there).consumeToken({ tokenHash: hash, handle: nina, now }))
          )
          const results = yield* Effect.all(racers, { concurrency: "unbounded" })
          expect(results.filter(Either.isRight)).toHaveLength(1)
          // A revocation made there is announced here.
          const cert = certificate(nina, (0xa000 + counter).toString(16), now, now + 1000)
          yield* there.recordCertificate(cert)
          yield* there.revokeHandle({ handle: nina, reason: "unspecified", at: now })
          expect(
            yield* Effect.repeat(nextChange(feed), { until: (c) => c.handle === nina && c.kind === "certificate" })
          ).toEqual({ handle: nina, kind: "certificate" })
          // ... with the revoked serial, which the NOTIFY payload carries across processes (issue 10 §2).
          expect(
            yield* Effect.repeat(nextChange(feed), { until: (c) => c.handle === nina && c.revokedSerial !== undefined })
          ).toEqual({ handle: nina, kind: "certificate", revokedSerial: cert.serial })
          expect((yield* here.status(cert.serial)).status).toBe("revoked")
          // Registrations committed together (one transaction, one statement for their notices) are each
          // announced here.
          const batch = Array.from({ length: 6 }, (_, i) => freshHandle(`batchfeed${i}`))
          yield* Effect.all(
            batch.map((handle) =>
              there.register({
                handle,
                deviceId: device("d"),
                addresses: addrs(4605),
                ttlSeconds: 60,
                seq: seq(1),
                observed: undefined,
                now
              })
            ),
            { concurrency: "unbounded" }
          )
          const announced = new Set<string>()
          yield* Effect.repeat(nextChange(feed), {
            until: (c) => {
              if (batch.includes(c.handle)) announced.add(c.handle)
              return announced.size === batch.length
            }
          })
          expect([...announced].sort()).toEqual([...batch].sort())
        })
      )
    }
  })
