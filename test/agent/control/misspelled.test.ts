/**
 * A misspelled control-socket parameter is answered with one sentence naming it and the parameters
 * the method takes, never the Schema's type (issue 13).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ErrorCode } from "../../../src/domain/agent/rpc.js"
import { raw, request, served } from "./helpers.js"

describe("control socket: a misspelled parameter", () => {
  it.scopedLive("send with `peeer` gets one sentence naming it and the parameters send takes", () =>
    Effect.gen(function* () {
      const { socketPath } = yield* served()
      const c = yield* raw(socketPath)
      yield* c.send(request(1, "send", { peeer: "bob@example.org", body: "hi" }))
      const answer = (yield* c.next) as { error: { code: number; message: string } }
      expect(answer.error.code).toBe(ErrorCode.InvalidParams)
      expect(answer.error.message).toMatch(/^send has no parameter "peeer": it takes .*"peer".*\.$/)
      expect(answer.error.message).not.toMatch(/\n|readonly|Struct|\{/)
    })
  )
})
