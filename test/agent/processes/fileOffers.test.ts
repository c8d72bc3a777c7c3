/**
 * File offers cannot exhaust an agent (issue 10, section 5), against a real `sixchat agent` process
 * (Bob, default policy) and a hand-written peer (`mallory`, an enrolled user of the domain) that
 * dials it over the real secure channel:
 *
 * * a stranger's first file is held, not accepted; once Bob has written to Mallory it is accepted;
 * * offers the schema admits but this agent cannot take (`chunk="65536"`, `size="2^63-1"`) get
 *   `<FileCancel reason="bad_request"/>` and the session goes on (PROTOCOL.md 5.4.6);
 * * 1,000 offers: a few are accepted, the rest wait or are refused with `too_many_transfers`
 *   (5.4.7); Bob's descriptors (/proc/PID/fd) and resident memory (VmRSS) stay bounded, and once
 *   Mallory disconnects the descriptors are back to their baseline; a resumed offer reopens its file.
 *
 * The figures are printed (`fileOffers:` lines) for the closing note. The same scripted peer
 * also sends a backdated `<Message sent>`: history shows when it arrived (section 6).
 */
import { createHash, randomBytes } from "node:crypto"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultTransferCaps, TOO_MANY_TRANSFERS } from "../../../src/domain/agent/filePolicy.js"
import { encodeFileRecord, fileIdBytes } from "../../../src/domain/agent/fileRecord.js"
import type { Handle, Id } from "../../../src/domain/brands.js"
import type { AppMessage } from "../../../src/domain/e2e/messages.js"
import { ulidFrom } from "../../../src/domain/ulid.js"
import { asPeer, type PeerChannel, untilPong, usage } from "./peer.js"
import { type AgentProc, call, type Domain, eventually, ok, startDomain } from "./support.js"

const OFFERS = 1000
const BATCH = 100

let domain: Domain
let bob: AgentProc
let malloryHome: string
let bobHome: string
const mallory = "mallory@example.org" as Handle

beforeAll(async () => {
  domain = await startDomain()
  const [bHome, mHome] = await Promise.all(["bob", "mallory"].map((n) => domain.enrol(n)))
  malloryHome = mHome!
  bobHome = bHome!
  bob = await domain.startAgent("bob", bobHome)
}, 60_000)

afterAll(async () => {
  const code = await bob?.stop()
  await domain.cleanup()
  expect(code).toBe(0)
}, 30_000)

const newId = () => ulidFrom(Date.now(), new Uint8Array(randomBytes(10))) as Id
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest()
const offer = (id: Id, size: bigint, chunk = 65_512): AppMessage => ({
  _tag: "e2e.FileOffer",
  id,
  name: `f-${id}.bin`,
  size,
  etag: "raw-1",
  chunk
})
const answersFor = (seen: ReadonlyArray<AppMessage>, id: Id) =>
  seen.filter((m) => "id" in m && m.id === id).map((m) => (m._tag === "e2e.FileCancel" ? `cancel:${m.reason}` : m._tag))

const bobAddress = async () => (await call(bob, "status", {})).listening[0]!
const incomingFrom = async (peer: Handle) =>
  (await call(bob, "transfers", { peer })).filter((t) => t.direction === "in")

describe("file offers from one peer", () => {
  it("hold a stranger's file, refuse what cannot be taken, cap 1,000 offers, release files on disconnect", async () => {
    const address = await bobAddress()
    // Let the agent settle (its IRP session, database) before the baseline.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before = usage(bob.pid)
    const stranger = newId()
    const flood: Array<Id> = []

    const during = await asPeer(malloryHome, address, bob.handle, (chan: PeerChannel) =>
      Effect.gen(function* () {
        // A stranger's first file: recorded and held, not accepted.
        yield* chan.send(offer(stranger, 5n))
        expect(answersFor(yield* untilPong(chan, "p1"), stranger)).toEqual([])
        const held = (yield* Effect.promise(() => incomingFrom(mallory))).find((t) => t.id === stranger)
        expect(held?.state).toBe("offered")
        // The user takes it anyway (`sixchat accept`, a real CLI process): the agent answers at once.
        yield* Effect.promise(() => ok(["accept", "--home", bobHome, mallory, stranger]))
        expect(answersFor(yield* untilPong(chan, "p0"), stranger)).toEqual(["e2e.FileAccept"])
        // Mallory gives up on it: it ends, and counts against no cap below.
        yield* chan.send({ _tag: "e2e.FileCancel", id: stranger, reason: "user_cancelled" })
        yield* Effect.promise(() =>
          eventually("the accepted stranger file cancelled", async () =>
            (await incomingFrom(mallory)).find((t) => t.id === stranger)?.state === "cancelled" ? true : undefined
          )
        )

        // Spec-conforming offers this agent cannot take: bad_request, and the session goes on.
        const bigChunk = newId()
        const hugeSize = newId()
        yield* chan.send(offer(bigChunk, 10n, 65_536))
        yield* chan.send(offer(hugeSize, 2n ** 63n - 1n))
        const refusals = yield* untilPong(chan, "p2")
        expect(answersFor(refusals, bigChunk)).toEqual(["cancel:bad_request"])
        expect(answersFor(refusals, hugeSize)).toEqual(["cancel:bad_request"])

        // Bob writes to Mallory: from now on her files are accepted (and arrive).
        yield* Effect.promise(() => call(bob, "send", { peer: mallory, body: "hi mallory" }))
        const content = new TextEncoder().encode("hello")
        const welcome = newId()
        yield* chan.send(offer(welcome, BigInt(content.length)))
        expect(answersFor(yield* untilPong(chan, "p3"), welcome)).toEqual(["e2e.FileAccept"])
        yield* chan.sendData(encodeFileRecord(fileIdBytes(welcome), 0, content))
        yield* chan.send({ _tag: "e2e.FileDone", id: welcome, sha256: sha(content) })
        expect(answersFor(yield* untilPong(chan, "p4"), welcome)).toEqual(["e2e.FileAck"])

        // 1,000 offers of 1 MiB each, in batches (every one answered or held before the next batch).
        const answers: Array<string> = []
        for (let b = 0; b < OFFERS / BATCH; b++) {
          const ids = Array.from({ length: BATCH }, newId)
          flood.push(...ids)
          for (const id of ids) yield* chan.send(offer(id, 1_048_576n))
          const seen = yield* untilPong(chan, `flood${b}`)
          for (const id of ids) answers.push(answersFor(seen, id).join(",") || "held")
        }
        return { answers, usage: usage(bob.pid) }
      })
    )

    const count = (what: string) => during.answers.filter((a) => a === what).length
    const caps = defaultTransferCaps
    // Accepted: up to the open cap; waiting (held): the rest of the per-peer cap (the stranger's file
    // and the welcome file have ended, so neither counts); refused on the wire: everything beyond.
    expect(count("e2e.FileAccept")).toBe(caps.openPerPeer)
    expect(count("held")).toBe(caps.perPeer - caps.openPerPeer)
    expect(count(`cancel:${TOO_MANY_TRANSFERS}`)).toBe(OFFERS - caps.perPeer)
    expect(count("e2e.FileAccept") + count("held") + count(`cancel:${TOO_MANY_TRANSFERS}`)).toBe(OFFERS)
    // Bounded: a descriptor per open transfer (and the session), not one per offer; no 2 MiB per offer.
    expect(during.usage.fds).toBeLessThanOrEqual(before.fds + caps.openPerPeer + 4)
    // (The old code held 2 MiB of buffers per accepted offer: 1,000 offers cost over 400 MB.)
    expect(during.usage.rssKiB - before.rssKiB).toBeLessThan(128 * 1024)

    // Mallory is gone: the partial files close and the descriptors are back to the baseline.
    const after = await eventually(
      "bob's descriptors to return to the baseline",
      () => {
        const u = usage(bob.pid)
        return u.fds <= before.fds ? u : undefined
      },
      { agents: [bob], timeoutMs: 15_000 }
    )
    console.log(
      `fileOffers: before fds=${before.fds} rss=${before.rssKiB} KiB; after ${OFFERS} offers fds=${during.usage.fds} rss=${during.usage.rssKiB} KiB; after disconnect fds=${after.fds} rss=${after.rssKiB} KiB`
    )

    // The refused offers were not stored (the per-peer cap, all of it the flood's now that the
    // stranger's and the welcome file have ended); the accepted ones wait for Mallory's next session.
    const stored = await incomingFrom(mallory)
    expect(stored.filter((t) => flood.includes(t.id)).length).toBe(caps.perPeer)

    // Resume reopens: the next session's offer of an accepted file is accepted again, from its offset.
    const accepted = stored.find((t) => t.state === "accepted")!
    const resumed = await asPeer(malloryHome, address, bob.handle, (chan) =>
      Effect.gen(function* () {
        yield* chan.send(offer(accepted.id, 1_048_576n))
        const seen = yield* untilPong(chan, "resume")
        return seen.filter((m) => m._tag === "e2e.FileAccept" && m.id === accepted.id)
      })
    )
    expect(resumed).toEqual([{ _tag: "e2e.FileAccept", id: accepted.id, offset: 0n }])
    await eventually(
      "bob's descriptors to return to the baseline again",
      () => (usage(bob.pid).fds <= before.fds ? true : undefined),
      { agents: [bob], timeoutMs: 15_000 }
    )
  }, 90_000)

  it("a backdated <Message sent> is shown at its arrival time, the claim beside it (issue 10, section 6)", async () => {
    const id = newId()
    const startedAt = Date.now()
    await asPeer(malloryHome, await bobAddress(), bob.handle, (chan) =>
      Effect.gen(function* () {
        yield* chan.send({ _tag: "e2e.Message", id, sent: "2001-02-03T04:05:06Z", body: "from the past" } as AppMessage)
        // Stored (and acknowledged, in a batch) while the session is up.
        yield* Effect.promise(() =>
          eventually(
            "bob's agent to store the message",
            async () => ((await call(bob, "history", { peer: mallory })).some((x) => x.id === id) ? true : undefined),
            { agents: [bob] }
          )
        )
      })
    )
    const json = JSON.parse(await ok(["history", "--home", bob.home, mallory, "--json"])) as Array<
      Record<string, string>
    >
    const m = json.find((x) => x.id === id)!
    // `at` (what is shown and ordered by) is the arrival; the sender's claim is kept as createdAt.
    expect(m.createdAt).toBe("2001-02-03T04:05:06.000Z")
    expect(Date.parse(m.at!)).toBeGreaterThanOrEqual(startedAt - 1000)
    expect(m.at).toBe(m.receivedAt)
    const line = (await ok(["history", "--home", bob.home, mallory]))
      .split("\n")
      .find((l) => l.includes("from the past"))!
    const arrived = new Date(Date.parse(m.at!))
    const day = `${arrived.getFullYear()}-${String(arrived.getMonth() + 1).padStart(2, "0")}-${String(arrived.getDate()).padStart(2, "0")}`
    expect(line.startsWith(day)).toBe(true)
    expect(line).toMatch(/\(unread; sent 2001-02-0[23] \d\d:\d\d by their clock\)$/)
  }, 30_000)
})
