/**
 * Offered names are untrusted (docs/PROTOCOL.md 5.4.5): a hand-written sender offers path-traversal
 * names; every file lands directly inside downloads under a safe name, never over another file.
 */
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import type { FileAck, FileCancel } from "../../../src/domain/e2e/messages.js"
import type { PeerLink } from "../../../src/layers/agent/core/plugin.js"
import { alice, aliceId, bobId, connect, freshId, listFiles, makeSide, raw } from "./harness.js"

const NAMES = ["../../x", "/etc/passwd", "..\\x", "x", "C:\\Windows\\system.ini", ".", "..", "  .hidden  "]

describe("offered names", () => {
  it.live("path-traversal names land safely inside downloads; the same name never overwrites", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const b = yield* makeSide(bobId)
        const contents = NAMES.map(() => randomBytes(1000 + Math.floor(Math.random() * 1000)))
        const ids = NAMES.map(() => freshId())
        const nulId = freshId()
        const nulContent = randomBytes(777)
        const bobLink = yield* Deferred.make<PeerLink>()
        const readyForNul = yield* Deferred.make<void>()
        const s = yield* connect(
          {
            raw: aliceId,
            use: (chan) =>
              Effect.gen(function* () {
                const answers: Array<FileAck | FileCancel> = []
                for (const [i, name] of NAMES.entries()) {
                  const accept = yield* raw.offer(chan, ids[i]!, name, contents[i]!)
                  expect(accept).toMatchObject({ _tag: "e2e.FileAccept", offset: 0n })
                  answers.push(yield* raw.finish(chan, ids[i]!, contents[i]!))
                }
                // A NUL cannot travel in XML; offer it straight to the plugin (see below) and serve it.
                yield* Deferred.succeed(readyForNul, undefined)
                expect(yield* raw.answer(chan, nulId)).toMatchObject({ _tag: "e2e.FileAccept" })
                answers.push(yield* raw.finish(chan, nulId, nulContent))
                return answers
              })
          },
          {
            side: b,
            hooks: {
              wrapLink: (link) => {
                Deferred.unsafeDone(bobLink, Effect.succeed(link))
                return link
              }
            }
          }
        )
        yield* Deferred.await(readyForNul)
        const handled = yield* b.files.plugin.onMessage(yield* Deferred.await(bobLink), {
          _tag: "e2e.FileOffer",
          id: nulId,
          name: "../a\u0000b/..\u0000/\u0000evil\u0000.sh",
          size: BigInt(nulContent.length),
          etag: "raw-1",
          chunk: 1024
        })
        expect(handled).toBe(true)
        const answers = (yield* Fiber.join(s.initiator)) as Array<FileAck | FileCancel>
        expect(answers.map((a) => a._tag)).toEqual([...NAMES.map(() => "e2e.FileAck"), "e2e.FileAck"])

        const finals = yield* Effect.forEach([...ids, nulId], (id) =>
          Effect.map(b.store.transfer({ direction: "in", peer: alice, id }), (t) =>
            t?.direction === "in" ? t.finalPath : null
          )
        )
        for (const p of finals) expect(dirname(p!)).toBe(b.downloads)
        expect(finals.map((p) => p!.slice(b.downloads.length + 1))).toEqual([
          "x",
          "passwd",
          "x (1)",
          "x (2)",
          "system.ini",
          "file",
          "file (1)",
          "hidden",
          "evil.sh"
        ])
        for (const [i, p] of finals.entries())
          expect(readFileSync(p!)).toEqual(i < NAMES.length ? contents[i] : nulContent)
        expect(listFiles(b.downloads)).toEqual([
          "evil.sh",
          "file",
          "file (1)",
          "hidden",
          "passwd",
          "system.ini",
          "x",
          "x (1)",
          "x (2)"
        ])
        expect(existsSync(join(b.home, "x"))).toBe(false)
        expect(existsSync(join(b.downloads, ".partial", "x"))).toBe(false)
      })
    )
  )
})
