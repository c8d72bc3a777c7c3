/**
 * The people commands across domains (PROTOCOL.md §22.3.3, §22.5), in-process against real agents
 * (`./harness.ts`) behind a real control socket: `send` to a foreign handle works unchanged; the home
 * IRP's `federation_refused` is its sentence and exit 1, `federation_unavailable` exit 3; a held domain
 * key change shows in `contacts` and `history` and is accepted by `sixchat trust @other.net`;
 * `domain show --home` shows the pinned CA and the relayed policy.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PassThrough } from "node:stream"
import { expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { afterAll, describe } from "vitest"
import { agentLines, askAgent } from "../../../src/cli/domainShow.js"
import { ExitCode } from "../../../src/cli/failure.js"
import { PeopleIo, runContacts, runHistory, runSend, runTrust } from "../../../src/cli/people/index.js"
import { CONTROL_SOCKET_FILE } from "../../../src/domain/agent/rpc.js"
import * as ControlServer from "../../../src/layers/agent/control/ControlServer.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import { Agent } from "../../../src/services/Agent.js"
import * as TestPki from "../../../src/testing/pki.js"
import { delivered, eventually, failedAttempt, startAgent } from "./harness.js"
import { makeWorld } from "./world.js"

const dirs: Array<string> = []
const tempDir = () => {
  // Short: a Unix socket path is limited to 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), "sxf-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

class Capture extends PassThrough {
  text = ""
  constructor() {
    super()
    this.on("data", (d: Buffer) => {
      this.text += d.toString("utf8")
    })
  }
}
const makeIo = () => ({ stdin: new PassThrough(), stdout: new Capture(), stderr: new Capture(), cwd: "/" })

describe("people commands across domains", () => {
  it.live("send, federation refusals, a held CA change in contacts and history, trust @D, domain show --home", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { example, other, alice, carol, world } = yield* Effect.gen(function* () {
          const example = yield* TestPki.make({ domain: "example.org" })
          const other = yield* TestPki.make({ domain: "other.net" })
          const world = makeWorld()
          world.domains.set("example.org", { root: example.rootCertificate, policy: "open" })
          world.domains.set("other.net", { root: other.rootCertificate, policy: "allow" })
          return {
            example,
            other,
            world,
            alice: yield* example.identity("alice@example.org"),
            carol: yield* other.identity("carol@other.net")
          }
        }).pipe(Effect.provide(EntropyLive.layer))
        const home = tempDir()
        const a = yield* startAgent(world, alice, example.rootCertificate, home, { strictKeys: true })
        let c = yield* startAgent(world, carol, other.rootCertificate, tempDir())
        yield* ControlServer.make({ socketPath: join(home, CONTROL_SOCKET_FILE) }).pipe(
          Effect.provideService(Agent, a.agent)
        )
        const io = makeIo()
        const withIo = Effect.provideService(PeopleIo, io)

        // `send` to a foreign handle: looked up through the home IRP, queued, delivered.
        yield* runSend({ home, peer: carol.handle, text: "hello other.net" }).pipe(withIo)
        const id = io.stdout.text.trim()
        yield* delivered(a.agent, id)

        // domain show --home: the relayed policy and the pin.
        const info = yield* askAgent(home, "Other.NET")
        const lines = agentLines(info).join("\n")
        expect(lines).toMatch(/^other\.net: federation policy allow/)
        expect(lines).toMatch(/pinned CA: {3}[0-9a-f]{4} [0-9a-f]{4}/)
        expect(lines).toMatch(/subject: {5}.*other\.net/)
        expect(lines).toMatch(/first seen: {2}\d{4}-\d\d-\d\d/)
        expect(info.pin?.fingerprint).toBe((yield* a.roots.pinned(info.domain))?.fingerprint)
        expect((yield* Effect.flip(askAgent(home, "not a domain"))).code).toBe(ExitCode.Usage)

        // The home IRP refuses, or cannot reach, the other domain.
        world.domains.get("other.net")!.failing = "federation_refused"
        const refused = yield* Effect.flip(runSend({ home, peer: carol.handle, text: "x" }).pipe(withIo))
        expect(refused).toMatchObject({
          code: ExitCode.Rejected,
          message: "other.net does not accept federation from example.org."
        })
        expect((yield* Effect.flip(askAgent(home, "other.net"))).code).toBe(ExitCode.Rejected)
        world.domains.get("other.net")!.failing = "federation_unavailable"
        const unavailable = yield* Effect.flip(runSend({ home, peer: carol.handle, text: "x" }).pipe(withIo))
        expect(unavailable.code).toBe(ExitCode.Unreachable)
        expect(unavailable.message).toMatch(/did not answer within 5 s/)
        world.domains.get("other.net")!.failing = undefined

        // other.net's CA changes: held (strict keys), shown in contacts and history as a key change is.
        yield* c.stop
        const renewed = yield* TestPki.make({ domain: "other.net" }).pipe(Effect.provide(EntropyLive.layer))
        const carol2 = yield* renewed.identity("carol@other.net").pipe(Effect.provide(EntropyLive.layer))
        world.domains.set("other.net", { root: renewed.rootCertificate, policy: "allow" })
        c = yield* startAgent(world, carol2, renewed.rootCertificate, tempDir())
        yield* runSend({ home, peer: carol.handle, text: "after the change" }).pipe(withIo)
        yield* failedAttempt(a.agent, carol.handle)

        const contactsIo = makeIo()
        yield* runContacts({ home }).pipe(Effect.provideService(PeopleIo, contactsIo))
        expect(contactsIo.stdout.text).toMatch(/carol@other\.net .*CA OF OTHER\.NET CHANGED, refused until trusted/)
        expect(contactsIo.stderr.text).toMatch(
          /the CA of other\.net changed .*refused until you trust it; .*sixchat trust --home .* @other\.net/
        )
        const historyIo = makeIo()
        yield* runHistory({ home, peer: Option.some(carol.handle), json: false, limit: 50 }).pipe(
          Effect.provideService(PeopleIo, historyIo)
        )
        expect(historyIo.stdout.text).toMatch(/\*\*\* the CA of other\.net changed \([0-9a-f]{16}… -> [0-9a-f]{16}…/)

        const trustIo = makeIo()
        yield* runTrust({ home, peer: "@other.net" }).pipe(Effect.provideService(PeopleIo, trustIo))
        expect(trustIo.stdout.text).toMatch(/^now trusting the new CA of other\.net: [0-9a-f]{4} /)
        // Nothing left to trust: as `trust HANDLE` without a key change (NotFound, exit 2), with a sentence.
        const nothing = yield* Effect.flip(runTrust({ home, peer: "@other.net" }).pipe(withIo))
        expect(nothing).toMatchObject({ code: ExitCode.Usage })
        expect(nothing.message).toMatch(/no change waiting to be trusted/)
        expect((yield* Effect.flip(runTrust({ home, peer: "@nodot" }).pipe(withIo))).code).toBe(ExitCode.Usage)
        // carol's own key changed with her CA: that is a contact key change, trusted the usual way.
        yield* eventually(
          Effect.map(a.agent.keyChanges(carol.handle), (all) => all.find((k) => k.status === "pending")),
          "carol's key change"
        )
        yield* runTrust({ home, peer: carol.handle }).pipe(withIo)
        yield* eventually(
          Effect.map(a.agent.outbox({ peer: carol.handle }), (items) => (items.length === 0 ? true : undefined)),
          "the outbox to empty"
        )
        yield* c.stop
        yield* a.stop
      })
    )
  )
})
