/**
 * IRP conformance against a real `sixchat irp serve` process (issue 16; PROTOCOL.md §17): the rules of
 * `conformance.test.ts` that need no enrolled user, with hand-built requests over a real channel to the
 * built binary (run `npm run build` first), so what is tested is what an operator runs.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAddress } from "../../../src/domain/brands.js"
import type { CrlResult } from "../../../src/domain/irp/messages.js"
import { pemDecode } from "../../../src/domain/pem.js"
import type { ChannelError } from "../../../src/services/SecureChannel.js"
import { openssl, writePem } from "../../ca/cli.js"
import { ok, type Served, serve, stop, type Workspace, workspace } from "../../cli/irpFlow.js"
import { NS, rawDial, ULID, UUID7 } from "./raw.js"
import { quietLayer } from "./support.js"

let ws: Workspace
let served: Served
let root: Uint8Array
beforeAll(async () => {
  ws = workspace()
  await ok(["irp", "init", "--dir", ws.dir, "--domain", "example.org"])
  root = pemDecode(readFileSync(join(ws.dir, "ca.pem"), "utf8"), "CERTIFICATE")[0]!
  served = await serve(ws.dir)
}, 60_000)
afterAll(async () => {
  if (served !== undefined) expect(await stop(served)).toBe(0)
  ws?.cleanup()
})

const run = <A>(effect: Effect.Effect<A, unknown, import("effect").Scope.Scope | import("./support.js").Base>) =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.timeout("30 seconds"), Effect.provide(quietLayer)))
const dial = () => rawDial(parseAddress(served.address)!, root)

describe("irp serve conformance (PROTOCOL.md §17)", () => {
  it("17.2.4, 17.1.6, 5.5, 17.10: ids echoed across namespaces, the IRP Ping, E2E documents refused in one sentence", () =>
    run(
      Effect.gen(function* () {
        const raw = yield* dial()
        expect(yield* raw.ask(`<Ping xmlns="urn:sixchat:irp:2" id="${ULID}"/>`)).toMatchObject({
          _tag: "irp.Error",
          id: ULID,
          code: "bad_request"
        })
        const e2eMessage = yield* raw.ask(
          `<Message xmlns="urn:sixchat:e2e:1" id="${UUID7}" sent="2026-11-26T12:00:00.000Z"><Body>hi</Body></Message>`
        )
        expect(e2eMessage).toMatchObject({ _tag: "irp.Error", id: UUID7, code: "bad_request" })
        const e2ePing = yield* raw.ask(`<Ping xmlns="urn:sixchat:e2e:1" nonce="n1"/>`)
        expect(e2ePing).toMatchObject({ _tag: "irp.Error", code: "bad_request" })
        expect("id" in e2ePing).toBe(false)
        const revoke = yield* raw.ask(`<Revoke ${NS} id="${ULID}" serial="ab" reason="certificateHold"/>`)
        expect(revoke).toEqual({
          _tag: "irp.Error",
          id: ULID,
          code: "bad_request",
          message:
            '<Revoke reason="certificateHold">: it is one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, aACompromise.'
        })
        expect(yield* raw.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
      })
    ))

  it("17.2.1 and 17.8.2: two CRL requests with one id both answered; the handshake's issuing CA verifies the CRL", () =>
    run(
      Effect.gen(function* () {
        const raw = yield* dial()
        yield* raw.send(`<Crl ${NS} id="${ULID}"/>`)
        yield* raw.send(`<Crl ${NS} id="${ULID}"/>`)
        const first = (yield* raw.answer) as CrlResult
        const second = (yield* raw.answer) as CrlResult
        expect([first._tag, first.id, first.parts, second._tag, second.id, second.parts]).toEqual([
          "irp.CrlResult",
          ULID,
          1,
          "irp.CrlResult",
          ULID,
          1
        ])
        const path = raw.channel.peer.certificate?.path ?? []
        expect(path).toHaveLength(3) // server certificate, issuing CA, root
        const dir = ws.root
        writePem(dir, "conformance-root.pem", "CERTIFICATE", [root])
        writePem(dir, "conformance-issuing.pem", "CERTIFICATE", [path[1]!])
        writeFileSync(join(dir, "conformance-crl.der"), first.der)
        expect(openssl(dir, ["verify", "-CAfile", "conformance-root.pem", "conformance-issuing.pem"]).stdout).toMatch(
          /: OK/
        )
        const crl = ["crl", "-inform", "DER", "-in", "conformance-crl.der", "-noout"]
        const verified = openssl(dir, [...crl, "-CAfile", "conformance-issuing.pem"])
        expect(verified.stdout + verified.stderr).toMatch(/verify OK/)
        const byRoot = openssl(dir, [...crl, "-CAfile", "conformance-root.pem"])
        expect(byRoot.stdout + byRoot.stderr).not.toMatch(/verify OK/)
      })
    ))

  it("17.1.5: a data record ends the connection with the alert unexpected_message", () =>
    run(
      Effect.gen(function* () {
        const raw = yield* dial()
        yield* raw.channel.sendData(new Uint8Array([0x3c]))
        const ended = yield* Effect.exit(raw.channel.receive)
        const error = Exit.isFailure(ended) ? (ended.cause as { readonly error?: ChannelError }).error : undefined
        expect([error?.reason, error?.alert]).toEqual(["PeerAlert", "unexpected_message"])
        const other = yield* dial()
        expect(yield* other.ask(`<Ping ${NS} id="${ULID}"/>`)).toEqual({ _tag: "irp.Ok", id: ULID })
      })
    ))
})
