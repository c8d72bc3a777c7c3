/**
 * Sending to a handle (issue 13, item 4), real processes on loopback: one `irp serve`, alice's agent,
 * bob enrolled but offline, carol enrolled then revoked by the operator.
 *
 * * `send`, `send-file` and `chat` look the handle up through the agent first: an unknown, revoked or
 *   other-domain handle is refused with exit 1 and one sentence, and leaves no contact behind;
 *   `--queue` queues anyway.
 * * `sixchat outbox [--json]` lists what waits; `outbox cancel ID` withdraws it; an unknown id, or one
 *   no longer waiting, is exit 1.
 * * After a restart with `--outbox-expiry 1s`, what waits expires: `history` shows it failed (text
 *   and `--json`), `status` counts it, the agent logs it, and a file offer ends `failed`.
 * * With the IRP down, `send` says so (exit 3) unless `--queue`.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { OutboxItem } from "../../../src/domain/agent/rpc.js"
import { start } from "../../support/cli.js"
import { type AgentProc, call, type Domain, eventually, handleOf, ok, startDomain } from "./support.js"

let domain: Domain
let alice: AgentProc
let aliceHome: string

/** `sixchat COMMAND --home alice ARGS…` (`outbox cancel` is two words), with its exit code and output (60 s bound). */
const cli = (args: ReadonlyArray<string>) => {
  const words = args[0] === "outbox" && args[1] === "cancel" ? 2 : 1
  return raw([...args.slice(0, words), "--home", aliceHome, ...args.slice(words)])
}

/** `sixchat ARGS…` as given. */
const raw = async (args: ReadonlyArray<string>) => {
  const run = start(args, { timeoutMs: 60_000 })
  run.child.stdin.end()
  const code = await run.exited
  return { code, stdout: run.stdout, stderr: run.stderr }
}

const outboxJson = async () => {
  const r = await cli(["outbox", "--json"])
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as ReadonlyArray<typeof OutboxItem.Encoded>
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
const bob = handleOf("bob")
const carol = handleOf("carol")
const zed = handleOf("zed")

beforeAll(async () => {
  domain = await startDomain()
  ;[aliceHome] = await Promise.all([domain.enrol("alice"), domain.enrol("bob"), domain.enrol("carol")])
  await ok(["irp", "revoke", "--dir", domain.dir, "--handle", carol, "--reason", "keyCompromise"])
  alice = await domain.startAgent("alice", aliceHome)
}, 120_000)

afterAll(async () => {
  await alice?.stop()
  await domain?.cleanup()
}, 30_000)

describe("sending to a handle", () => {
  it("refuses an unknown, a revoked and an unreachable other-domain handle (exit 1, one sentence, no contact); --queue queues", async () => {
    const unknown = await cli(["send", zed, "hi"])
    expect(unknown.code).toBe(1)
    expect(unknown.stdout).toBe("")
    expect(unknown.stderr).toBe(
      `sixchat: ${zed} has no certificate in example.org: check the spelling, or ask them to enrol; nothing was queued (--queue queues it anyway)\n`
    )
    const revoked = await cli(["send", carol, "hi"])
    expect(revoked.code).toBe(1)
    expect(revoked.stderr).toMatch(/carol@example\.org's certificate has been revoked.*nothing was queued/)
    const foreign = await cli(["send", "zed@other.net", "hi"])
    expect(foreign.code).toBe(1)
    // Looked up through the home IRP (PROTOCOL.md §22.4); this one does not federate: refused, one sentence.
    expect(foreign.stderr).toMatch(/^sixchat: .*other\.net.*\n$/)

    const file = join(domain.root, "note.txt")
    writeFileSync(file, "a file\n")
    const fileRefused = await cli(["send-file", zed, file])
    expect(fileRefused.code).toBe(1)
    expect(fileRefused.stderr).toMatch(/no certificate in example\.org/)
    const chatRefused = await cli(["chat", carol])
    expect(chatRefused.code).toBe(1)
    expect(chatRefused.stderr).toMatch(/revoked/)

    const contacts = await call(alice, "contacts", {})
    expect(contacts.map((c) => c.handle)).toEqual([])
    expect(await outboxJson()).toEqual([])

    const queued = await cli(["send", "--queue", zed, "hi anyway"])
    expect(queued.code).toBe(0)
    const id = queued.stdout.trim()
    const items = await outboxJson()
    expect(items).toHaveLength(1)
    expect(items[0]).toMatchObject({ id, peer: zed, kind: "message", state: "queued", summary: "hi anyway" })
    expect(items[0]!.createdAt).toMatch(RFC3339_UTC)
    expect(Date.parse(items[0]!.expiresAt) - Date.parse(items[0]!.createdAt)).toBe(7 * 86_400_000)
  }, 120_000)

  it("an offline but known handle is accepted; outbox lists it; outbox cancel withdraws one, an unknown id is exit 1", async () => {
    const sent = await cli(["send", bob, "hello bob"])
    expect(sent.code).toBe(0)
    const id = sent.stdout.trim()
    const text = await cli(["outbox"])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`${id}  ${bob}  message  queued`)
    expect(text.stdout).toContain('"hello bob"')

    const zedId = (await outboxJson()).find((i) => i.peer === zed)!.id
    const cancelled = await cli(["outbox", "cancel", zedId])
    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout).toBe(`cancelled message ${zedId} to ${zed}\n`)
    expect((await outboxJson()).map((i) => i.id)).toEqual([id])

    // The group's --home counts for `cancel` too.
    const again = await raw(["outbox", "--home", aliceHome, "cancel", zedId])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already cancelled/)
    const unknown = await cli(["outbox", "cancel", "01J9Z3K4M5N6P7Q8R9S0T1V2W3"])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe(
      "sixchat: Nothing in the outbox has id 01J9Z3K4M5N6P7Q8R9S0T1V2W3: `sixchat outbox` lists what waits.\n"
    )
    const garbage = await cli(["outbox", "cancel", "not-an-id"])
    expect(garbage.code).toBe(1)
  }, 120_000)

  it("after a restart with --outbox-expiry 1s, what waits expires: failed in history and status, logged", async () => {
    const file = join(domain.root, "offer.bin")
    writeFileSync(file, Buffer.alloc(1000, 7))
    const offered = await cli(["send-file", bob, file])
    expect(offered.code).toBe(0)
    const fileId = offered.stdout.trim()
    expect((await outboxJson()).map((i) => i.kind).sort()).toEqual(["file", "message"])

    expect(await alice.stop()).toBe(0)
    alice = await domain.startAgent("alice", aliceHome, ["--outbox-expiry", "1s"])
    const history = await eventually(
      "the message to bob to expire",
      async () => {
        const r = await cli(["history", "--json", bob])
        const messages = JSON.parse(r.stdout) as ReadonlyArray<Record<string, unknown>>
        return messages.every((m) => m.state === "expired") ? messages : undefined
      },
      { agents: [alice], timeoutMs: 30_000, everyMs: 250 }
    )
    expect(history).toHaveLength(1)
    expect(history[0]).toMatchObject({ body: "hello bob", state: "expired", failed: true })
    expect(history[0]!.expiredAt).toMatch(RFC3339_UTC)
    expect((await cli(["history", bob])).stdout).toMatch(/hello bob {2}\(failed: expired undelivered\)/)

    await eventually(
      "the file offer to fail",
      async () => {
        const transfers = await call(alice, "transfers", {})
        const t = transfers.find((x) => x.id === fileId)
        return t?.state === "failed" ? t : undefined
      },
      { agents: [alice], timeoutMs: 30_000, everyMs: 250 }
    )
    expect(await outboxJson()).toEqual([])
    const status = await cli(["status"])
    expect(status.stdout).toMatch(/failed: {7}2 message\(s\) or file\(s\) not delivered in time/)
    await eventually("the agent to log it", () =>
      /1 message not delivered within 1s/.test(alice.run.stderr) ? true : undefined
    )
    expect(alice.run.stderr).toMatch(/1 file not delivered within 1s, given up/)
  }, 180_000)

  it("with the IRP down, send says so (exit 3) unless --queue", async () => {
    await domain.stopIrp()
    const down = await cli(["send", bob, "are you there?"])
    expect(down.code).toBe(3)
    expect(down.stderr).toMatch(
      /^sixchat: The IRP server (cannot be reached to look up|did not answer the lookup of) bob@example\.org.*--queue\.\n$/
    )
    const queued = await cli(["send", "--queue", bob, "are you there?"])
    expect(queued.code).toBe(0)
  }, 120_000)
})
