/**
 * Watches of foreign handles through the relay (PROTOCOL.md §22.4): one federation `Watch` per foreign
 * handle shared by every local watcher, `Changed` fanned out to each, the last watcher's leaving
 * unwatches, and a lost session fails every watcher's stream. Also the root cache (§22.3.3): a changed
 * root of a domain is logged.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, type Layer, Logger, Scope, Stream } from "effect"
import type { Handle } from "../../src/domain/brands.js"
import type { IrpServerMessage } from "../../src/domain/irp/messages.js"
import * as TestPki from "../../src/testing/pki.js"
import {
  awaitRequests,
  baseLayer,
  directory,
  federation,
  handleOf,
  makePublicCa,
  startFakeIrp
} from "./relaySupport.js"

const live = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope | Layer.Layer.Success<typeof baseLayer>>
) => it.scopedLive(name, () => Effect.provide(body(), baseLayer))

const names = ["irp.example.org", "irp.other.net"]

const setup = (answer?: Parameters<typeof startFakeIrp>[0]["answer"]) =>
  Effect.gen(function* () {
    const ca = yield* makePublicCa(names)
    const pki = yield* TestPki.make({ domain: "other.net" })
    const fake = yield* startFakeIrp({
      pki,
      publicChain: yield* ca.server("irp.other.net"),
      callerAnchors: [ca.root],
      answer
    })
    const dir = directory()
    dir.at.set("other.net", fake.address)
    return { ca, pki, fake, dir }
  })

const carol = handleOf("carol@other.net") as Handle
const change = { handle: carol, status: "good" as const, bindings: [] }

describe("Federation relay watches", () => {
  live("two local watchers share one foreign Watch; both get its changes; the last to leave unwatches", () =>
    Effect.gen(function* () {
      const { ca, fake, dir } = yield* setup()
      const fed = yield* federation(ca, dir)
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      const a = yield* fed.watch([carol]).pipe(Scope.extend(first))
      const b = yield* fed.watch([carol]).pipe(Scope.extend(second))
      expect(fake.requests.filter((r) => r._tag === "irp.Watch")).toHaveLength(1)
      const got = yield* Effect.fork(
        Effect.all([Stream.runCollect(Stream.take(a, 1)), Stream.runCollect(Stream.take(b, 1))])
      )
      yield* fake.push(change)
      const [ca1, cb1] = yield* Fiber.join(got)
      expect(Chunk.toArray(ca1)).toEqual([change])
      expect(Chunk.toArray(cb1)).toEqual([change])

      yield* Scope.close(first, Exit.void)
      const before = fake.requests.length
      yield* Scope.close(second, Exit.void)
      yield* awaitRequests(fake, before + 1)
      expect(fake.requests.at(-1)).toMatchObject({ _tag: "irp.Unwatch", handles: [carol] })
      expect(fake.requests.filter((r) => r._tag === "irp.Unwatch")).toHaveLength(1)
    })
  )

  live("a lost session fails every watcher's stream with Unavailable; a new watch dials again", () =>
    Effect.gen(function* () {
      const { ca, fake, dir } = yield* setup()
      const fed = yield* federation(ca, dir)
      const stream = yield* fed.watch([carol])
      const ended = yield* Effect.fork(Stream.runDrain(stream).pipe(Effect.flip))
      yield* fake.closeAll
      const e = yield* Fiber.join(ended)
      expect(e.reason).toBe("Unavailable")
      expect(e.domain).toBe("other.net")
      yield* fed.watch([carol])
      expect(fake.accepts()).toBe(2)
    })
  )

  live("a foreign IRP refusing the Watch: the watcher gets its refusal", () =>
    Effect.gen(function* () {
      const { ca, dir } = yield* setup((r) =>
        Effect.succeed<IrpServerMessage | null>(
          r._tag === "irp.Watch"
            ? {
                _tag: "irp.Error",
                id: r.id,
                code: "federation_refused",
                message: "other.net does not accept federation from example.org"
              }
            : null
        )
      )
      const fed = yield* federation(ca, dir)
      const e = yield* Effect.flip(fed.watch([carol]))
      expect(e).toMatchObject({ reason: "Refused", message: "other.net does not accept federation from example.org" })
    })
  )

  live("a changed root of a domain is served and logged with both fingerprints", () =>
    Effect.gen(function* () {
      const other = yield* TestPki.make({ domain: "other.net" })
      let swapped = false
      const { ca, pki, dir } = yield* setup((r) =>
        Effect.succeed<IrpServerMessage | null>(
          r._tag === "irp.DomainInfo" && swapped
            ? {
                _tag: "irp.DomainInfoResult",
                id: r.id,
                domain: "other.net",
                policy: "open",
                root: other.rootCertificate
              }
            : null
        )
      )
      const logs: Array<string> = []
      const logger = Logger.make(({ message, logLevel }) => {
        if (logLevel._tag === "Warning") logs.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
      const fed = yield* federation(ca, dir, { bounds: { rootTtl: 0 } }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      expect((yield* fed.domainInfo("other.net")).root).toEqual(pki.rootCertificate)
      swapped = true
      const info = yield* fed.domainInfo("other.net").pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(info.root).toEqual(other.rootCertificate)
      expect(logs).toHaveLength(1)
      expect(logs[0]).toMatch(/^the root of other\.net changed: SHA-256 [0-9a-f]{64} is now [0-9a-f]{64}$/)
    })
  )
})
