/**
 * One time format on the control socket (issue 13 §3, docs/CONTROL.md §4): every time in a result or
 * an event notification is an RFC 3339 UTC string with milliseconds, and `history`'s `before.at`
 * takes the same string back; an epoch number there is refused with a sentence. The typed client
 * still hands its callers epoch milliseconds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Instant } from "../../../src/domain/agent/messages.js"
import { ErrorCode } from "../../../src/domain/agent/rpc.js"
import * as ControlClient from "../../../src/layers/agent/control/ControlClient.js"
import { alice, bob, raw, request, served } from "./helpers.js"

const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const NOW = "2023-11-14T22:13:20.000Z" // the FakeAgent's clock, 1_700_000_000_000

describe("control socket times", () => {
  it.scopedLive("results and events carry RFC 3339 UTC strings; before.at takes one back", () =>
    Effect.gen(function* () {
      const { socketPath, fake } = yield* served()
      const c = yield* raw(socketPath)
      yield* c.send(request(1, "subscribe"))
      expect(yield* c.next).toMatchObject({ id: 1, result: { subscription: expect.any(Number) } })

      yield* c.send(request(2, "send", { peer: bob, body: "hi" }))
      const lines = [yield* c.next, yield* c.next] as Array<Record<string, unknown>>
      const answer = lines.find((l) => l.id === 2) as { result: Record<string, unknown> }
      expect(answer.result).toMatchObject({ at: NOW, createdAt: NOW, sentAt: null, deliveredAt: null })
      const event = lines.find((l) => l.method === "event") as {
        params: { event: { _tag: string; message: Record<string, unknown> } }
      }
      expect(event.params.event).toMatchObject({ _tag: "agent.MessageAdded", message: { at: NOW, createdAt: NOW } })

      fake.addContact(bob)
      yield* c.send(request(3, "contacts"))
      const contacts = (yield* c.next) as { result: Array<Record<string, unknown>> }
      for (const field of ["pinnedAt", "lastHandshakeAt", "lastMessageAt"]) {
        const value = contacts.result[0]![field]
        if (value !== null) expect(value).toMatch(RFC3339_UTC)
      }

      yield* c.send(request(4, "history", { before: { at: "2023-11-14T22:13:21.000Z", seq: 99 } }))
      const page = (yield* c.next) as { result: Array<{ at: string; body: string }> }
      expect(page.result.map((m) => [m.at, m.body])).toEqual([[NOW, "hi"]])
      yield* c.send(request(5, "history", { before: { at: 1_700_000_001_000, seq: 99 } }))
      expect(yield* c.next).toMatchObject({ id: 5, error: { code: ErrorCode.InvalidParams } })
    })
  )

  it.scopedLive("the typed client decodes the strings back into epoch milliseconds", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const client = yield* ControlClient.connect(socketPath)
      const sent = yield* client.call("send", { peer: bob, body: "hello" })
      expect(sent.createdAt).toBe(1_700_000_000_000)
      const status = yield* client.call("status", {})
      expect(status.handle).toBe(alice)
    })
  )

  it("Instant: any RFC 3339 offset in, UTC with milliseconds out; anything else refused", () => {
    const decode = Schema.decodeUnknownSync(Instant)
    expect(decode("2026-12-05T13:00:00+01:00")).toBe(Date.parse("2026-12-05T12:00:00Z"))
    expect(Schema.encodeSync(Instant)(Date.parse("2026-12-05T12:00:00Z"))).toBe("2026-12-05T12:00:00.000Z")
    for (const bad of ["2026-12-05", "yesterday", "2026-12-05T12:00:00", "2026-13-45T12:00:00Z", 1_700_000_000_000])
      expect(() => decode(bad)).toThrow()
  })
})
