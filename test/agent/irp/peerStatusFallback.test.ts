/**
 * IrpPeerStatus's fallback query (PROTOCOL.md §13.6.3) when a peer sends no staple: concurrent checks
 * of one certificate share one `<Status>` query, so a peer that opens many sessions at once with one
 * certificate costs the IRP one query; a check whose session goes away does not cancel the answer the
 * others wait for; the next check after the answer asks again (no unstapled answer is kept).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Ref } from "effect"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import type { VerifiedCertificate } from "../../../src/domain/cert/verify.js"
import { IrpConnection } from "../../../src/layers/agent/irp/IrpConnection.js"
import * as IrpPeerStatus from "../../../src/layers/agent/irp/IrpPeerStatus.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import type { CertificateStatusRecord } from "../../../src/services/IrpClient.js"
import { makeFakeConnection } from "./fakeConnection.js"

const alice = Handle.make("alice@example.org")
const bob = Handle.make("bob@example.org")

/** The fields the gate reads of a verified certificate (the type is nominal; the gate checks no signature here). */
const peer = (serial: string) => ({ handle: bob, serial, path: [] }) as unknown as VerifiedCertificate

const setup = Effect.gen(function* () {
  const asked = yield* Ref.make<ReadonlyArray<string>>([])
  const answer = yield* Deferred.make<void>()
  const fake = yield* makeFakeConnection(alice, makeAddress("127.0.0.1", 4604), {
    status: (serial) =>
      Effect.zipRight(
        Ref.update(asked, (all) => [...all, serial]),
        Effect.as(Deferred.await(answer), { serial, status: "good" } satisfies CertificateStatusRecord)
      )
  })
  const gate = yield* IrpPeerStatus.make({ chain: () => [], statusTimeout: "5 seconds" }).pipe(
    Effect.provide(Layer.merge(Layer.succeed(IrpConnection, fake.service), CryptoLive.layer))
  )
  return { gate, asked: Ref.get(asked), release: Deferred.succeed(answer, undefined) }
})

describe("IrpPeerStatus fallback queries", () => {
  it.scoped("twenty concurrent checks of one certificate make one query; another certificate makes its own", () =>
    Effect.gen(function* () {
      const t = yield* setup
      const checks = yield* Effect.forkAll(
        [...Array.from({ length: 20 }, () => t.gate.check(peer("0a"), undefined)), t.gate.check(peer("0b"), undefined)],
        { discard: false }
      )
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect([...(yield* t.asked)].sort()).toEqual(["0a", "0b"])
      yield* t.release
      const admissions = yield* Fiber.join(checks)
      expect(admissions.map((a) => a._tag)).toEqual(Array(21).fill("Good"))
      expect(admissions.every((a) => a._tag === "Good" && a.via === "status")).toBe(true)
      // The answer had no staple: nothing is kept, the next check asks again.
      yield* t.gate.check(peer("0a"), undefined)
      expect(yield* t.asked).toHaveLength(3)
    })
  )

  it.scoped("a waiting check that is interrupted does not cancel the query the others wait for", () =>
    Effect.gen(function* () {
      const t = yield* setup
      const first = yield* Effect.fork(t.gate.check(peer("0c"), undefined))
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      const second = yield* Effect.fork(t.gate.check(peer("0c"), undefined))
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      yield* Fiber.interrupt(first)
      yield* t.release
      const admission = yield* Fiber.join(second)
      expect(admission._tag).toBe("Good")
      expect(yield* t.asked).toEqual(["0c"])
    })
  )
})
