/**
 * File transfer between two plugins over real SecureChannels (in-memory pipe): a few MiB byte for
 * byte with progress, an offer made while offline, an empty file, the same name twice, the accept policy.
 */
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { isTerminalTransfer } from "../../../src/domain/agent/transfers.js"
import type { Handle } from "../../../src/domain/brands.js"
import { aliceId, bob, bobId, connect, inState, listFiles, makeSide, refs, tempDir, waitFor } from "./harness.js"

const writeFile = (dir: string, name: string, bytes: Uint8Array) => {
  const file = join(dir, name)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, bytes)
  return file
}

describe("file transfer", () => {
  it.live("a few MiB arrive byte for byte, SHA-256 checked, with progress samples both ways", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        const content = randomBytes(3 * 1024 * 1024 + 12_345)
        const file = writeFile(a.home, "outbox/holiday photos.tar.gz", content)
        yield* connect({ side: a }, { side: b })
        const watching = yield* Effect.fork(
          b.files.progress.pipe(
            Stream.takeUntil((p) => p.ref.direction === "in" && p.state !== undefined && isTerminalTransfer(p.state)),
            Stream.runCollect
          )
        )
        yield* Effect.sleep("10 millis") // the progress subscription is live
        const t = yield* a.files.sendFile(bob, file)
        expect(t).toMatchObject({ direction: "out", peer: bob, name: "holiday photos.tar.gz", size: content.length })
        expect(t.chunk).toBe(65_512)
        const r = refs(t.id)
        const received = yield* waitFor(b, r.in, inState("done"))
        const sent = yield* waitFor(a, r.out, inState("done"))
        expect(sent).toMatchObject({ state: "done", ackedOffset: content.length })
        if (received.direction !== "in") throw new Error("expected an incoming transfer")
        expect(received.finalPath).toBe(join(b.downloads, "holiday photos.tar.gz"))
        expect(Buffer.compare(readFileSync(received.finalPath!), content)).toBe(0)
        expect(received.receivedOffset).toBe(content.length)
        // Nothing is left in .partial; only the file is in downloads.
        expect(listFiles(b.downloads)).toEqual(["holiday photos.tar.gz"])

        const samples = Chunk.toArray(yield* Fiber.join(watching)).filter((p) => p.ref.id === t.id)
        expect(samples.length).toBeGreaterThan(3)
        const bytes = samples.map((p) => p.bytes)
        expect([...bytes].sort((x, y) => x - y)).toEqual(bytes)
        expect(samples.at(-1)).toMatchObject({ bytes: content.length, total: content.length, state: "done", eta: 0 })
        expect(samples.every((p) => p.rate >= 0 && p.total === content.length)).toBe(true)
      })
    )
  )

  it.live("an offer made while offline goes out on the next session; connect is asked for one", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const asked: Array<Handle> = []
        const a = yield* makeSide(aliceId, { connect: (peer) => Effect.sync(() => asked.push(peer)) })
        const b = yield* makeSide(bobId)
        const content = randomBytes(200_000)
        const t = yield* a.files.sendFile(bob, writeFile(a.home, "late.bin", content))
        expect(t.state).toBe("offered")
        yield* Effect.sleep("10 millis")
        expect(asked).toEqual([bob])
        expect(yield* a.files.pendingPeers).toEqual([bob])
        yield* connect({ side: a }, { side: b })
        const received = yield* waitFor(b, refs(t.id).in, inState("done"))
        yield* waitFor(a, refs(t.id).out, inState("done"))
        expect(readFileSync(received.direction === "in" ? received.finalPath! : "")).toEqual(content)
        expect(yield* a.files.pendingPeers).toEqual([])
      })
    )
  )

  it.live("an empty file, and the same name twice: no overwrite", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        yield* connect({ side: a }, { side: b })
        const empty = yield* a.files.sendFile(bob, writeFile(a.home, "empty.txt", new Uint8Array()))
        const first = randomBytes(70_000)
        const second = randomBytes(131_024) // exactly two chunks
        const t1 = yield* a.files.sendFile(bob, writeFile(a.home, "one/report.pdf", first))
        const t2 = yield* a.files.sendFile(bob, writeFile(a.home, "two/report.pdf", second))
        const done = yield* Effect.forEach([empty, t1, t2], (t) => waitFor(b, refs(t.id).in, inState("done")))
        const paths = done.map((t) => (t.direction === "in" ? t.finalPath : null))
        expect(paths[0]).toBe(join(b.downloads, "empty.txt"))
        // The two streams share the session, so either may finish first and take the plain name.
        expect([paths[1], paths[2]].sort()).toEqual([
          join(b.downloads, "report (1).pdf"),
          join(b.downloads, "report.pdf")
        ])
        expect(readFileSync(paths[0]!).length).toBe(0)
        expect(readFileSync(paths[1]!)).toEqual(first)
        expect(readFileSync(paths[2]!)).toEqual(second)
        expect(listFiles(b.downloads)).toEqual(["empty.txt", "report (1).pdf", "report.pdf"])
        yield* Effect.forEach([empty, t1, t2], (t) => waitFor(a, refs(t.id).out, inState("done")))
      })
    )
  )

  it.live("policy: small offers are accepted, larger ones held until the user accepts", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId, { policy: { _tag: "UpTo", maxBytes: 10_000, from: "anyone" } })
        yield* connect({ side: a }, { side: b })
        const small = yield* a.files.sendFile(bob, writeFile(a.home, "small.txt", randomBytes(10_000)))
        const big = randomBytes(10_001)
        const large = yield* a.files.sendFile(bob, writeFile(a.home, "large.bin", big))
        yield* waitFor(b, refs(small.id).in, inState("done"))
        const held = yield* waitFor(b, refs(large.id).in, inState("offered"))
        expect(held).toMatchObject({ direction: "in", receivedOffset: 0, offeredName: "large.bin" })
        yield* Effect.sleep("50 millis")
        expect((yield* b.store.transfer(refs(large.id).in))?.state).toBe("offered")
        expect((yield* a.store.transfer(refs(large.id).out))?.state).toBe("offered")
        yield* b.files.accept(refs(large.id).in)
        const got = yield* waitFor(b, refs(large.id).in, inState("done"))
        expect(readFileSync(got.direction === "in" ? got.finalPath! : "")).toEqual(big)
        yield* waitFor(a, refs(large.id).out, inState("done"))
      })
    )
  )

  it.live("policy never holds everything; sendFile refuses a directory and a missing file", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* tempDir
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId, { policy: { _tag: "Never" } })
        yield* connect({ side: a }, { side: b })
        const t = yield* a.files.sendFile(bob, writeFile(dir, "tiny.txt", new Uint8Array([1, 2, 3])))
        yield* waitFor(b, refs(t.id).in, inState("offered"))
        yield* Effect.sleep("50 millis")
        expect((yield* b.store.transfer(refs(t.id).in))?.state).toBe("offered")
        expect(listFiles(b.downloads)).toEqual([])
        const notFile = yield* Effect.flip(a.files.sendFile(bob, dir))
        expect(notFile).toMatchObject({ _tag: "FileTransferError", reason: "BadRequest" })
        const missing = yield* Effect.flip(a.files.sendFile(bob, join(dir, "nope.txt")))
        expect(missing).toMatchObject({ reason: "NotFound" })
        expect(missing.message).toContain("nope.txt")
      })
    )
  )
})
