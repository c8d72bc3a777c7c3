/**
 * File transfer between real agent processes (issue 4, sections 3 and 6): a 48 MiB file whose
 * receiver is killed with SIGKILL mid-transfer resumes from the offset the receiver had (not from 0)
 * once it restarts, and arrives with the right SHA-256; offered names cannot leave `downloads/`.
 *
 * Hostile names are tried on both sides: the sending agent makes a hostile base name safe before
 * offering it (asserted through its API), so the receiving agent's own defence is tested by a
 * hand-written peer in this process (a third enrolled user, `mallory`) that dials Bob's agent
 * process over the real secure channel and offers path-traversal names directly.
 */
import { createHash, randomBytes } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { encodeFileRecord, fileIdBytes } from "../../../src/domain/agent/fileRecord.js"
import type { Transfer } from "../../../src/domain/agent/transfers.js"
import type { Address, Handle, Id } from "../../../src/domain/brands.js"
import type { AppMessage } from "../../../src/domain/e2e/messages.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import { pemDecode } from "../../../src/domain/pem.js"
import { ulidFrom } from "../../../src/domain/ulid.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import { e2eCodec, make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { cryptoSuite } from "../../../src/services/Crypto.js"
import type { SecureChannel } from "../../../src/services/SecureChannel.js"
import { type AgentProc, call, type Domain, eventually, sha256File, startDomain, subscribe } from "./support.js"

const MiB = 1024 * 1024

let domain: Domain
let alice: AgentProc
let bob: AgentProc
let malloryHome: string

beforeAll(async () => {
  domain = await startDomain()
  const [aliceHome, bobHome, mHome] = await Promise.all(["alice", "bob", "mallory"].map((n) => domain.enrol(n)))
  malloryHome = mHome!
  // Bob takes files from anyone here (the default takes them only from people he has written to,
  // which fileOffers.test.ts covers): these tests are about resuming and names.
  ;[alice, bob] = await Promise.all([
    domain.startAgent("alice", aliceHome!),
    domain.startAgent("bob", bobHome!, ["--accept-files", "anyone:4GiB"])
  ])
}, 60_000)

afterAll(async () => {
  const codes = await Promise.all([alice, bob].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
  expect(codes).toEqual([0, 0])
}, 30_000)

const incoming = async (agent: AgentProc, id: string) =>
  (await call(agent, "transfers", {})).find(
    (t): t is Extract<Transfer, { direction: "in" }> => t.direction === "in" && t.id === id
  )

const untilReceived = (agent: AgentProc, id: string, agents: ReadonlyArray<AgentProc>) =>
  eventually(
    `${agent.name}'s agent to verify and keep file ${id}`,
    async () => {
      const t = await incoming(agent, id)
      if (t !== undefined && (t.state === "failed" || t.state === "cancelled"))
        throw new Error(`the transfer ended ${t.state}: ${t.detail}`)
      return t?.state === "done" ? t : undefined
    },
    { agents, timeoutMs: 60_000 }
  )

describe("files between agent processes", () => {
  it("the receiver is killed with SIGKILL mid-transfer: after its restart the transfer resumes from its offset; SHA-256 matches", async () => {
    const SIZE = 48 * MiB
    const file = join(domain.root, "big.bin")
    writeFileSync(file, randomBytes(SIZE))
    const digest = sha256File(file)

    const aliceEvents = await subscribe(alice)
    let killedAt: number | undefined
    // Bob's agent dies the moment it reports 10 MiB received (its store has saved an offset by then: every 8 MiB).
    const bobEvents = await subscribe(bob, (event) => {
      if (event._tag !== "agent.TransferProgress" || event.ref.direction !== "in") return
      if (killedAt === undefined && event.offset >= 10 * MiB) {
        bob.signal("SIGKILL")
        killedAt = event.offset
      }
    })
    const offered = await call(alice, "sendFile", { peer: bob.handle, path: file })
    // Offered by size and etag: the SHA-256 is known once the sender has streamed the file (5.4.3).
    expect([offered.state, offered.size, offered.sha256]).toEqual(["offered", SIZE, null])
    await eventually("bob's agent to be killed mid-transfer", () => (bob.running() ? undefined : true), {
      agents: [alice],
      timeoutMs: 60_000
    })
    await bobEvents.close()
    expect(bob.run.child.signalCode).toBe("SIGKILL")
    expect(killedAt).toBeGreaterThanOrEqual(10 * MiB)
    expect(killedAt).toBeLessThan(SIZE)

    bob = await domain.startAgent("bob", bob.home, ["--accept-files", "anyone:4GiB"])
    // What the restarted agent found on disk: a partial download, not a finished one.
    const found = await incoming(bob, offered.id)
    expect(found?.state).not.toBe("done")
    expect(found!.receivedOffset).toBeGreaterThan(0)

    const done = await untilReceived(bob, offered.id, [alice, bob])
    expect(dirname(done.finalPath!)).toBe(join(bob.home, "downloads"))
    expect(basename(done.finalPath!)).toBe("big.bin")
    expect(sha256File(done.finalPath!)).toBe(digest)
    expect(existsSync(done.tempPath)).toBe(false)
    const sent = await eventually("alice's transfer to be done", async () =>
      (await call(alice, "transfers", { peer: bob.handle })).find((t) => t.id === offered.id && t.state === "done")
    )
    expect(sent.direction === "out" && sent.ackedOffset).toBe(SIZE)
    // The digest travelled in <FileDone>: both sides store the SHA-256 of the whole file.
    expect([sent.sha256, done.sha256]).toEqual([digest, digest])

    // Alice's agent resumed: after the break it streamed again from Bob's offset, not from 0. A stream's
    // start is a `sending` update below the file's size (the one at the end of a stream, which records
    // the digest, is at the size). The digest does not tell them apart: on a loaded machine the kill can
    // land after Alice's first stream ended, and then the resumed start carries the stored digest too.
    await aliceEvents.close()
    const starts = aliceEvents.events.flatMap((e) =>
      e._tag === "agent.TransferUpdated" && e.transfer.id === offered.id && e.transfer.direction === "out"
        ? e.transfer.state === "sending" && e.transfer.ackedOffset < SIZE
          ? [e.transfer.ackedOffset]
          : []
        : []
    )
    expect(starts[0]).toBe(0)
    expect(starts.length).toBeGreaterThanOrEqual(2)
    expect(starts.at(-1)).toBeGreaterThan(0)
    // Bob's restarted agent asked from the offset it had saved, which `found` read at or after it.
    expect(starts.at(-1)).toBeLessThanOrEqual(found!.receivedOffset)
  }, 120_000)

  it("a hostile base name is made safe by the sending agent before it is offered", async () => {
    const hostile = "..\\..\\evil<name>.sh"
    const file = join(domain.root, hostile)
    writeFileSync(file, "echo owned\n")
    const offered = await call(alice, "sendFile", { peer: bob.handle, path: file })
    expect(offered.direction === "out" && offered.name).not.toMatch(/[\\/<>]|^\.\.?$/)
    const done = await untilReceived(bob, offered.id, [alice, bob])
    expect(dirname(done.finalPath!)).toBe(join(bob.home, "downloads"))
    expect(readFileSync(done.finalPath!, "utf8")).toBe("echo owned\n")
  })

  it("path-traversal names offered by a hand-written peer land inside the receiving agent's downloads", async () => {
    const mallory = "mallory@example.org" as Handle
    const anchors = pemDecode(readFileSync(join(malloryHome, "ca.pem"), "utf8"), "CERTIFICATE")
    const pkcs8 = pemDecode(readFileSync(join(malloryHome, "key.pem"), "utf8"), "PRIVATE KEY")[0]!
    const chain = pemDecode(readFileSync(join(malloryHome, "cert.pem"), "utf8"), "CERTIFICATE")
    const bobAddress = (await call(bob, "status", {})).listening[0]!
    const names = ["../../../escaped.sh", "/etc/cron.d/sixchat-evil", "..", "downloads/../../x"]
    const contents = names.map((n) => new TextEncoder().encode(`offered as ${n}\n`))
    const ids = names.map(() => ulidFrom(Date.now(), new Uint8Array(randomBytes(10))) as Id)

    const answers = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const crypto = yield* cryptoSuite
          const identity = yield* Either.match(makeLocalIdentity(crypto, pkcs8, chain), {
            onLeft: (m) => Effect.die(new Error(m)),
            onRight: Effect.succeed
          })
          const channels = yield* makeChannels({ codec: e2eCodec, identity, allowAnonymousPeer: false })
          const chan = yield* channels.dial(bobAddress as Address, { _tag: "Handle", handle: bob.handle })
          expect(chan.peer.handle).toBe(bob.handle)
          const out: Array<string> = []
          for (const [i, name] of names.entries()) {
            const content = contents[i]!
            yield* chan.send({
              _tag: "e2e.FileOffer",
              id: ids[i]!,
              name,
              size: BigInt(content.length),
              etag: "raw-1",
              chunk: 65_512
            })
            const accept = yield* answerTo(chan, ids[i]!, ["e2e.FileAccept", "e2e.FileCancel"])
            out.push(accept._tag)
            if (accept._tag !== "e2e.FileAccept") continue
            yield* chan.sendData(encodeFileRecord(fileIdBytes(ids[i]!), 0, content))
            yield* chan.send({
              _tag: "e2e.FileDone",
              id: ids[i]!,
              sha256: createHash("sha256").update(content).digest()
            })
            out.push((yield* answerTo(chan, ids[i]!, ["e2e.FileAck", "e2e.FileCancel"]))._tag)
          }
          yield* chan.close()
          return out
        })
      ).pipe(
        Effect.timeout("30 seconds"),
        Effect.provide(
          Layer.mergeAll(
            CryptoLive.layerFor("node"),
            EntropyLive.layer,
            Layer.orDie(CertVerifierLive.layer({ anchors })),
            TcpTransport.layer
          )
        )
      )
    )
    expect(answers).toEqual(names.flatMap(() => ["e2e.FileAccept", "e2e.FileAck"]))

    const downloads = join(bob.home, "downloads")
    const received = await call(bob, "transfers", { peer: mallory })
    for (const [i, id] of ids.entries()) {
      const t = received.find((x) => x.id === id)
      expect(t?.direction === "in" && t.offeredName).toBe(names[i])
      expect(t?.state).toBe("done")
      const finalPath = t?.direction === "in" ? t.finalPath : null
      expect(dirname(finalPath!)).toBe(downloads)
      expect(readFileSync(finalPath!)).toEqual(Buffer.from(contents[i]!))
    }
    const kept = ids.map((id) => received.find((x) => x.id === id)).map((t) => t?.direction === "in" && t.finalPath)
    expect(kept.map((p) => basename(p as string))).toEqual(["escaped.sh", "sixchat-evil", "file", "x"])
    // Nothing was written where the names pointed.
    for (const p of [join(domain.root, "escaped.sh"), join(bob.home, "escaped.sh"), join(bob.home, "x")])
      expect(existsSync(p)).toBe(false)
    expect(existsSync("/etc/cron.d/sixchat-evil")).toBe(false)
  })
})

/** The next message about `id` of one of `tags` (other messages and data skipped; at most 1000 items). */
const answerTo = <T extends AppMessage["_tag"]>(
  chan: SecureChannel<AppMessage, AppMessage>,
  id: Id,
  tags: ReadonlyArray<T>
): Effect.Effect<
  Extract<AppMessage, { _tag: T }>,
  Error | import("../../../src/services/SecureChannel.js").ChannelError
> =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000; i++) {
      const item = yield* chan.receive
      if (item._tag === "Closed") break
      if (item._tag !== "Message") continue
      const m = item.message as AppMessage & { readonly id?: unknown }
      if ((tags as ReadonlyArray<string>).includes(m._tag) && m.id === id) return m as Extract<AppMessage, { _tag: T }>
    }
    return yield* Effect.fail(new Error(`no ${tags.join(" or ")} for ${id}`))
  })
