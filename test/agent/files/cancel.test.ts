/**
 * Cancel either way (issue 4, section 3): by the sender mid-stream, by the receiver mid-stream, and
 * an offer still held by the receiver's policy; partial files are removed, nothing lands in downloads.
 */
import { truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { transferRef } from "../../../src/domain/agent/transfers.js"
import { aliceId, bob, bobId, connect, inState, listFiles, makeSide, refs, type Side, waitFor } from "./harness.js"

/** A sparse 32 MiB file: far more records than fit between the third record and the cancel. */
const bigFile = (side: Side) => {
  const file = join(side.home, "dataset.bin")
  writeFileSync(file, "header")
  truncateSync(file, 32 * 1024 * 1024)
  return file
}

/** Cancels `side`'s only live transfer (found in its store) once the receiver handled its third record. */
const cancelAtThirdRecord = (side: Side) => (n: number) =>
  n !== 3
    ? Effect.succeed("continue" as const)
    : Effect.gen(function* () {
        const [t] = yield* Effect.orDie(side.store.transfers({ active: true }))
        yield* Effect.orDie(side.files.cancel(transferRef(t!)))
        return "continue" as const
      })

describe("cancel", () => {
  it.live("by the sender mid-stream: both sides cancelled, the partial file removed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        yield* connect({ side: a }, { side: b, hooks: { afterData: cancelAtThirdRecord(a) } })
        const t = yield* a.files.sendFile(bob, bigFile(a))
        const sender = yield* waitFor(a, refs(t.id).out, inState("cancelled"))
        expect(sender.detail).toBe("You cancelled the file.")
        const receiver = yield* waitFor(b, refs(t.id).in, inState("cancelled"))
        expect(receiver.detail).toContain("cancelled the file (user_cancelled)")
        expect(listFiles(b.downloads)).toEqual([])
        // A second cancel is a no-op that returns the finished transfer.
        expect(yield* a.files.cancel(refs(t.id).out)).toMatchObject({ state: "cancelled" })
      })
    )
  )

  it.live("by the receiver mid-stream: the sender stops, nothing is kept", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId)
        yield* connect({ side: a }, { side: b, hooks: { afterData: cancelAtThirdRecord(b) } })
        const t = yield* a.files.sendFile(bob, bigFile(a))
        const receiver = yield* waitFor(b, refs(t.id).in, inState("cancelled"))
        expect(receiver.detail).toBe("You cancelled the file.")
        const sender = yield* waitFor(a, refs(t.id).out, inState("cancelled"))
        expect(sender.detail).toContain("cancelled the file (user_cancelled)")
        expect(listFiles(b.downloads)).toEqual([])
      })
    )
  )

  it.live("a held offer cancelled by id on the sender is cancelled on the receiver; unknown ids cancel nothing", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* makeSide(aliceId)
        const b = yield* makeSide(bobId, { policy: { _tag: "Never" } })
        yield* connect({ side: a }, { side: b })
        const file = join(a.home, "note.txt")
        writeFileSync(file, "hello")
        const t = yield* a.files.sendFile(bob, file)
        yield* waitFor(b, refs(t.id).in, inState("offered"))
        const cancelled = yield* a.files.cancelId(t.id)
        expect(cancelled).toMatchObject([{ direction: "out", state: "cancelled" }])
        yield* waitFor(b, refs(t.id).in, inState("cancelled"))
        expect(yield* a.files.cancelId(t.id)).toEqual([])
        const missing = yield* Effect.flip(b.files.accept(refs(t.id).in))
        expect(missing).toMatchObject({ reason: "BadRequest" })
      })
    )
  )
})
