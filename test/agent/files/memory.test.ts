/**
 * Flat memory (issue 4, section 3: "A 1 GiB file must transfer with flat memory use"): 256 MiB over
 * TCP loopback with real back-pressure; the process's RSS is sampled as a sanity bound (not a timing).
 */
import { createHash, randomBytes } from "node:crypto"
import { closeSync, createReadStream, ftruncateSync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { aliceId, bob, bobId, connect, inState, makeSide, refs, waitFor } from "./harness.js"

const SIZE = 256 * 1024 * 1024
const MiB = 1024 * 1024

/** SHA-256 of a file, streamed. */
const sha256File = (file: string) =>
  Effect.promise(
    () =>
      new Promise<string>((resolve, reject) => {
        const hash = createHash("sha256")
        createReadStream(file)
          .on("data", (c) => hash.update(c))
          .on("end", () => resolve(hash.digest("hex")))
          .on("error", reject)
      })
  )

describe("memory", () => {
  it.live(
    "256 MiB over TCP: RSS grows by well under 150 MiB, the file arrives intact",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const a = yield* makeSide(aliceId)
          const b = yield* makeSide(bobId)
          // Mostly sparse (cheap to make), with random bytes at the start, the middle and the end.
          const file = join(a.home, "disk.img")
          const fd = openSync(file, "w")
          ftruncateSync(fd, SIZE)
          for (const at of [0, SIZE / 2 - 12_345, SIZE - MiB]) writeSync(fd, randomBytes(MiB), 0, MiB, at)
          closeSync(fd)
          const expected = yield* sha256File(file)

          yield* connect({ side: a }, { side: b }, "tcp")
          global.gc?.()
          const baseline = process.memoryUsage().rss
          let peak = baseline
          const sampler = setInterval(() => {
            peak = Math.max(peak, process.memoryUsage().rss)
          }, 25)
          yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sampler)))

          const t = yield* a.files.sendFile(bob, file)
          const done = yield* waitFor(b, refs(t.id).in, inState("done"))
          yield* waitFor(a, refs(t.id).out, inState("done"))
          peak = Math.max(peak, process.memoryUsage().rss)
          const grown = (peak - baseline) / MiB
          expect(grown).toBeLessThan(150)
          expect(done).toMatchObject({ size: SIZE, receivedOffset: SIZE })
          expect(yield* sha256File(done.direction === "in" ? done.finalPath! : "")).toBe(expected)
        })
      ),
    60_000
  )
})
