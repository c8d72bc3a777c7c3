/**
 * Resuming: the connection is cut mid-transfer and a new session continues from the receiver's
 * offset (in process, and after both agents restart on the same homes); the final SHA-256 holds.
 */
import { randomBytes } from "node:crypto"
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { PeerLink } from "../../../src/layers/agent/core/plugin.js"
import {
  alice,
  aliceId,
  bob,
  bobId,
  connect,
  type Hooks,
  inState,
  listFiles,
  makeSide,
  refs,
  tempDir,
  waitFor
} from "./harness.js"

const CHUNK = 65_512

/** Records every `<FileAccept offset>` the receiver sends. */
const acceptRecorder = () => {
  const offsets: Array<number> = []
  const wrapLink = (link: PeerLink): PeerLink => ({
    ...link,
    send: (m) =>
      Effect.zipRight(
        Effect.sync(() => {
          if (m._tag === "e2e.FileAccept") offsets.push(Number(m.offset))
        }),
        link.send(m)
      )
  })
  return { offsets, wrapLink }
}

const cutAfter =
  (records: number): NonNullable<Hooks["afterData"]> =>
  (n) =>
    Effect.succeed(n === records ? "cut" : "continue")

describe("resume", () => {
  it.live("a cut connection pauses the transfer; the next session resumes from the received offset", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        const content = randomBytes(4 * 1024 * 1024 + 99)
        const file = join(a.home, "big.bin")
        writeFileSync(file, content)
        const first = acceptRecorder()
        const s1 = yield* connect(
          { side: a },
          { side: b, hooks: { wrapLink: first.wrapLink, afterData: cutAfter(10) } }
        )
        const t = yield* a.files.sendFile(bob, file)
        yield* s1.ended
        const r = refs(t.id)
        expect(first.offsets).toEqual([0])
        const paused = yield* b.store.transfer(r.in)
        expect(paused).toMatchObject({ state: "receiving", receivedOffset: 10 * CHUNK })
        // The sender's stream ends on the dead channel and waits for the next accept.
        yield* waitFor(a, r.out, inState("offered"))
        // Bytes beyond the known offset (say, written just before a crash) are trimmed before resuming.
        const partial = paused?.direction === "in" ? paused.tempPath : ""
        appendFileSync(partial, randomBytes(1000))

        const second = acceptRecorder()
        yield* connect({ side: a }, { side: b, hooks: { wrapLink: second.wrapLink } })
        const done = yield* waitFor(b, r.in, inState("done"))
        yield* waitFor(a, r.out, inState("done"))
        expect(second.offsets).toEqual([10 * CHUNK])
        expect(Buffer.compare(readFileSync(done.direction === "in" ? done.finalPath! : ""), content)).toBe(0)
        expect(listFiles(b.downloads)).toEqual(["big.bin"])
      })
    )
  )

  it.live("after both agents restart, the transfer resumes from the partial file (re-hashed) and completes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const homeA = yield* tempDir
        const homeB = yield* tempDir
        const content = randomBytes(3 * 1024 * 1024 + 5)
        const file = join(homeA, "video.mp4")
        writeFileSync(file, content)
        const t = yield* Effect.scoped(
          Effect.gen(function* () {
            const a = yield* makeSide(aliceId, { home: homeA })
            const b = yield* makeSide(bobId, { home: homeB })
            const s = yield* connect({ side: a }, { side: b, hooks: { afterData: cutAfter(12) } })
            const t = yield* a.files.sendFile(bob, file)
            yield* s.ended
            return t
          })
        )
        // Both agents are gone; the partial file lost its tail (it is shorter than the stored offset).
        const partial = join(homeB, "downloads", ".partial", "alice@example.org", t.id)
        expect(statSync(partial).size).toBe(12 * CHUNK)
        const kept = 5 * CHUNK + 7
        truncateSync(partial, kept)

        const a = yield* makeSide(aliceId, { home: homeA })
        const b = yield* makeSide(bobId, { home: homeB })
        const r = refs(t.id)
        expect(yield* b.store.transfer(r.in)).toMatchObject({ receivedOffset: 12 * CHUNK })
        const rec = acceptRecorder()
        yield* connect({ side: a }, { side: b, hooks: { wrapLink: rec.wrapLink } })
        const done = yield* waitFor(b, r.in, inState("done"))
        yield* waitFor(a, r.out, inState("done"))
        expect(rec.offsets).toEqual([kept])
        expect(Buffer.compare(readFileSync(done.direction === "in" ? done.finalPath! : ""), content)).toBe(0)
        expect(listFiles(b.downloads)).toEqual(["video.mp4"])
      })
    )
  )

  it.live("a late session-down (after its replacement came up) does not disturb the live transfer", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        const content = randomBytes(2 * 1024 * 1024 + 3)
        const file = join(a.home, "late.bin")
        writeFileSync(file, content)
        const lateDown = (n: number) =>
          n !== 5
            ? Effect.succeed("continue" as const)
            : Effect.as(
                Effect.zipRight(a.files.plugin.onSessionDown(bob), b.files.plugin.onSessionDown(alice)),
                "continue" as const
              )
        yield* connect({ side: a }, { side: b, hooks: { afterData: lateDown } })
        const t = yield* a.files.sendFile(bob, file)
        const done = yield* waitFor(b, refs(t.id).in, inState("done"))
        yield* waitFor(a, refs(t.id).out, inState("done"))
        expect(Buffer.compare(readFileSync(done.direction === "in" ? done.finalPath! : ""), content)).toBe(0)
      })
    )
  )
})
