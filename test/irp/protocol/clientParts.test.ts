/**
 * The IRP client's per-request parts on their own: monotonic request ids, the pending-request table
 * (settling, interruption, the sweep's timeout bounds) and the check of what it sends.
 */
import { expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Fiber, Schema } from "effect"
import { describe } from "vitest"
import { Ulid } from "../../../src/domain/brands.js"
import { type IrpRequest, Register } from "../../../src/domain/irp/messages.js"
import { monotonicUlids, ulidFrom, ulidTime } from "../../../src/domain/ulid.js"
import { PendingRequest, PendingRequests, sweepPeriod } from "../../../src/layers/irp/client/PendingRequests.js"
import { refuseUnsendable } from "../../../src/layers/irp/client/unsendable.js"
import { IrpClientError } from "../../../src/services/IrpClient.js"

const isUlid = Schema.is(Ulid)

describe("monotonic ULIDs", () => {
  it("draw once per millisecond and count up within it, carrying across digits", () => {
    const draws: Array<Uint8Array> = []
    const draw = () => {
      // The last digit is 30 (0b11110): the second increment carries into the digit before it.
      const r = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 0x1e])
      draws.push(r)
      return r
    }
    const next = monotonicUlids(draw)
    const t = 1_780_000_000_123
    const ids = Array.from({ length: 5 }, () => next(t))
    expect(draws.length).toBe(1)
    expect(ids[0]).toBe(ulidFrom(t, draws[0]!))
    expect(ids.every(isUlid)).toBe(true)
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(5)
    expect(ids[1]!.slice(0, 25)).toBe(ids[0]!.slice(0, 25))
    expect(ids[2]!.slice(0, 25)).not.toBe(ids[1]!.slice(0, 25))
    expect(ids.every((id) => ulidTime(id) === t)).toBe(true)
    next(t + 1)
    expect(draws.length).toBe(2)
  })

  it("a clock that steps back keeps the last time; overflow moves to the next millisecond", () => {
    const next = monotonicUlids(() => new Uint8Array(10).fill(0xff))
    const first = next(5000)
    expect(first).toBe("00000004W8ZZZZZZZZZZZZZZZZ")
    const second = next(4000)
    expect(ulidTime(second)).toBe(5001)
    expect(second > first).toBe(true)
    const third = next(4000)
    expect(ulidTime(third)).toBe(5002)
  })

  it("ids of one source increase over many calls and clock values", () => {
    let seed = 7
    const next = monotonicUlids(() =>
      Uint8Array.from({ length: 10 }, () => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
        return seed >>> 24
      })
    )
    let previous = ""
    for (let i = 0; i < 20_000; i++) {
      const id = next(1_700_000_000_000 + Math.floor(i / 700) - (i % 1000 === 0 ? 3 : 0))
      expect(id > previous).toBe(true)
      previous = id
    }
  })
})

const timeout = (request: PendingRequest) => new IrpClientError({ reason: "Timeout", message: request.name })

describe("PendingRequests", () => {
  it.effect("an outcome settled before the requester waits is not lost", () =>
    Effect.gen(function* () {
      const pending = new PendingRequests()
      const p = new PendingRequest("Ping", 10n, Exit.succeed)
      pending.add("a", p)
      pending.settle("a", p, Exit.succeed({ _tag: "irp.Ok", id: "a" as never }))
      expect(pending.size).toBe(0)
      expect(yield* p.wait).toEqual({ _tag: "irp.Ok", id: "a" })
    })
  )

  it.effect("an answer reaches the requester as what its request makes of it", () =>
    Effect.gen(function* () {
      const pending = new PendingRequests()
      const refuse = new IrpClientError({ reason: "Protocol", message: "not this one" })
      const p = new PendingRequest("Lookup", 10n, (a) => (a._tag === "irp.Ok" ? Exit.succeed(a.id) : Exit.fail(refuse)))
      const q = new PendingRequest("Lookup", 10n, (a) => (a._tag === "irp.Ok" ? Exit.succeed(a.id) : Exit.fail(refuse)))
      pending.add("a", p)
      pending.add("b", q)
      const waiting = yield* Effect.fork(p.wait)
      pending.answer("a", p, { _tag: "irp.Ok", id: "a" as never })
      pending.answer("b", q, { _tag: "crl", der: new Uint8Array(1) })
      expect(pending.size).toBe(0)
      expect(yield* Fiber.join(waiting)).toBe("a")
      expect(yield* Effect.flip(q.wait)).toBe(refuse)
    })
  )

  it.effect("the sweep fails exactly the requests past their deadline; the end fails the rest", () =>
    Effect.gen(function* () {
      const pending = new PendingRequests()
      const early = new PendingRequest("Lookup", 100n, Exit.succeed)
      const late = new PendingRequest("Status", 300n, Exit.succeed)
      pending.add("early", early)
      pending.add("late", late)
      const waiting = yield* Effect.fork(Effect.either(early.wait))
      pending.expire(99n, timeout)
      expect(pending.size).toBe(2)
      pending.expire(100n, timeout)
      expect(pending.size).toBe(1)
      const result = yield* Fiber.join(waiting)
      expect(result).toMatchObject({ _tag: "Left", left: { reason: "Timeout", message: "Lookup" } })
      pending.failAll(new IrpClientError({ reason: "Channel", message: "gone" }))
      expect(pending.size).toBe(0)
      expect(yield* Effect.flip(late.wait)).toMatchObject({ reason: "Channel" })
    })
  )

  it.effect("an interrupted requester's entry goes with the sweep; settling it then does nothing", () =>
    Effect.gen(function* () {
      const pending = new PendingRequests()
      const p = new PendingRequest("Lookup", 100n, Exit.succeed)
      pending.add("x", p)
      const waiting = yield* Effect.fork(p.wait)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiting)
      expect(pending.size).toBe(1)
      pending.expire(100n, timeout)
      expect(pending.size).toBe(0)
      expect(Exit.isInterrupted(yield* Fiber.await(waiting))).toBe(true)
    })
  )

  it("the sweep period is a quarter of the timeout, between 10 ms and 250 ms", () => {
    expect(Duration.toMillis(sweepPeriod(Duration.seconds(10)))).toBe(250)
    expect(Duration.toMillis(sweepPeriod(Duration.millis(200)))).toBe(50)
    expect(Duration.toMillis(sweepPeriod(Duration.millis(1)))).toBe(10)
  })
})

describe("refuseUnsendable", () => {
  // The reference: the request's schema validation (which, unlike `Schema.is`, accepts inherited fields).
  const isRegister = (u: unknown) => Either.isRight(Schema.validateEither(Register)(u))
  const register = (addresses: unknown) =>
    ({
      _tag: "irp.Register",
      id: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
      deviceId: "laptop",
      addresses,
      ttlSeconds: 300,
      seq: 7n
    }) as unknown as IrpRequest
  const address = { host: "192.0.2.1", port: 4605 }
  const inherited = Object.create({ host: "192.0.2.1" }) as { port: number }
  inherited.port = 4605

  it("refuses a registration's addresses exactly when their schema's validation does (through its quick test or not)", () => {
    const cases: ReadonlyArray<unknown> = [
      [address],
      [address, { host: "2001:db8::1", port: 1, extra: true }],
      Array.from({ length: 8 }, () => address),
      Array.from({ length: 9 }, () => address),
      [],
      [null],
      ["192.0.2.1:4605"],
      [{ host: "192.0.2.1" }],
      [{ port: 4605 }],
      [inherited],
      [{ host: "", port: 4605 }],
      [{ host: "bad host", port: 4605 }],
      [{ host: "192.0.2.1", port: 0 }],
      [{ host: "192.0.2.1", port: 65536 }],
      [{ host: "192.0.2.1", port: 4605.5 }],
      [{ host: "192.0.2.1", port: "4605" }],
      [address, { host: "192.0.2.1", port: -1 }],
      { 0: address, length: 1 },
      "192.0.2.1",
      undefined
    ]
    for (const addresses of cases) {
      const refusal = refuseUnsendable(register(addresses))
      expect(refusal === undefined, JSON.stringify(addresses)).toBe(isRegister(register(addresses)))
      if (refusal !== undefined)
        expect([refusal.reason, refusal.message]).toEqual(["bad_request", expect.stringMatching(/not sent/)])
    }
  })
})
