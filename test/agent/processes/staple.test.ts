/**
 * Revocation reaches agents that do not watch (issue 10, section 2; PROTOCOL.md §13.6): a real
 * `irp serve` (SQLite, staples of 8 s), real `sixchat agent` processes, a real `peer connect` playing
 * the holder of a stolen, revoked key.
 *
 * (a) Dave renews with a new key and revokes the old one (keyCompromise). The old key dials Bob:
 *     refused (`certificate_revoked`), gets none of Bob's queued messages, and its message does not
 *     land in Bob's history; Dave's new key then gets the queued message.
 * (b) Stapled statuses that must not help the old key: forged, for another serial, expired. A genuine,
 *     still valid staple of the old key is the control: admitted, and closed when it runs out.
 * (c) `irp revoke --handle carol` while Bob does not watch Carol: Bob closes their live session within
 *     the staple lifetime, and takes no further message from her.
 */
import { generateKeyPairSync, sign } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { clientLayer, connectFromHome } from "../../../src/cli/irpSession.js"
import { certificateIdentity } from "../../../src/domain/cert/identity.js"
import { encodeStaple, type StapleFields, stapleToBeSigned } from "../../../src/domain/cert/staple.js"
import type { SerialHex } from "../../../src/domain/irp/certificates.js"
import { pemDecode } from "../../../src/domain/pem.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import { start } from "../../support/cli.js"
import {
  type AgentProc,
  call,
  type Domain,
  eventually,
  handleOf,
  history,
  ok,
  sessionsWith,
  startDomain,
  untilStates
} from "./support.js"

const LIFETIME_S = 8

let domain: Domain
let bob: AgentProc
let carol: AgentProc
let dave: AgentProc | undefined
let daveOldHome: string
let oldSerial: string
let bobAddress: string
let carolHome: string

/** The IRP's answer to `<Status serial staple="true">` for the home's own certificate, over a real IRP connection. */
const fetchStaple = (home: string) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const session = yield* connectFromHome(home, Option.none())
        const answer = yield* session.client.status(leafOf(home).serial as SerialHex, { staple: true })
        return answer.staple
      })
    ).pipe(Effect.provide(Layer.merge(clientLayer("node"), EntropyLive.layer)))
  )

/** A `peer connect` session to Bob that stays open (stdin open) until Bob ends it; resolves with when. */
const liveSession = (home: string, stapleBytes: Uint8Array) => {
  const file = join(domain.root, "live-staple.bin")
  writeFileSync(file, stapleBytes)
  const run = start(
    [
      "peer",
      "connect",
      "--key",
      join(home, "key.pem"),
      "--cert",
      join(home, "cert.pem"),
      "--trust",
      join(domain.dir, "ca.pem"),
      "--expect",
      bob.handle,
      "--staple",
      file,
      bobAddress
    ],
    { timeoutMs: 60_000 }
  )
  return run.exited.then(() => {
    run.child.stdin.destroy()
    return { at: Date.now(), stderr: run.stderr }
  })
}

const leafOf = (home: string) =>
  certificateIdentity(pemDecode(readFileSync(join(home, "cert.pem"), "utf8"), "CERTIFICATE")[0]!)!

/** A staple over `fields` signed with the domain's real issuing key, or with `key` (a forgery). */
const staple = (fields: Omit<StapleFields, "issuer">, key?: string) => {
  const issuingDer = pemDecode(readFileSync(join(domain.dir, "issuing-ca.pem"), "utf8"), "CERTIFICATE")[0]!
  const issuer = certificateIdentity(issuingDer)!.fingerprint
  const tbs = stapleToBeSigned({ ...fields, issuer })
  const signingKey = key ?? readFileSync(join(domain.dir, "issuing-key.pem"), "utf8")
  return encodeStaple(tbs, new Uint8Array(sign("sha256", tbs, { key: signingKey, dsaEncoding: "ieee-p1363" })))
}

/**
 * `peer connect` to Bob with the key of `home` (Dave's OLD key by default) and `stapleBytes`, if
 * any: says one line, then waits until Bob ends the session (or 30 s). Resolves with what it printed.
 */
const oldKeyDials = async (body: string, stapleBytes?: Uint8Array, home = daveOldHome) => {
  const args = [
    "peer",
    "connect",
    "--key",
    join(home, "key.pem"),
    "--cert",
    join(home, "cert.pem"),
    "--trust",
    join(domain.dir, "ca.pem"),
    "--expect",
    bob.handle
  ]
  if (stapleBytes !== undefined) {
    const file = join(domain.root, `staple-${Date.now()}.bin`)
    writeFileSync(file, stapleBytes)
    args.push("--staple", file)
  }
  const run = start([...args, bobAddress], { timeoutMs: 30_000 })
  run.child.stdin.write(`${body}\n`)
  const code = await run.exited
  run.child.stdin.destroy()
  return { code, stdout: run.stdout, stderr: run.stderr }
}

const incomingBodies = async (agent: AgentProc, peer: string) =>
  (await history(agent, handleOf(peer.split("@")[0]!))).filter((m) => m.direction === "in").map((m) => m.body)

beforeAll(async () => {
  domain = await startDomain({ irpConfig: { stapleLifetimeSeconds: LIFETIME_S } })
  // One at a time: the machine may be busy, and each enrolment starts three processes.
  const bobHome = await domain.enrol("bob")
  const daveHome = await domain.enrol("dave")
  const carolsHome = await domain.enrol("carol")
  daveOldHome = daveHome
  carolHome = carolsHome
  oldSerial = leafOf(daveOldHome).serial
  ;[bob, dave, carol] = await Promise.all([
    domain.startAgent("bob", bobHome),
    domain.startAgent("dave", daveHome),
    domain.startAgent("carol", carolHome)
  ])
  const listening = (await call(bob, "status", {})).listening[0]!
  bobAddress = `${listening.host}:${listening.port}`
}, 150_000)

afterAll(async () => {
  await Promise.all([bob, carol, dave].filter((a) => a !== undefined).map((a) => a.stop()))
  await domain.cleanup()
}, 30_000)

describe("a revoked certificate is refused by an agent that does not watch it", () => {
  it("(a) dave's old key, revoked after renewal, gets nothing from bob and is not taken for dave", async () => {
    const hello = await call(dave!, "send", { peer: bob.handle, body: "hello from dave (key 1)" })
    await untilStates(dave!, bob.handle, [hello.id], ["delivered"], [bob, dave!])

    // Dave renews with a new key (a new home, same handle) and revokes the old certificate.
    expect(await dave!.stop()).toBe(0)
    dave = undefined
    const newHome = await domain.enrol("dave", "dave2", { viaIpv6: true })
    expect(leafOf(newHome).serial).not.toBe(oldSerial)
    await ok(["irp", "revoke", "--dir", domain.dir, "--serial", oldSerial, "--reason", "keyCompromise"])
    const secret = await call(bob, "send", { peer: handleOf("dave"), body: "secret for dave" })

    const attack = await oldKeyDials("I am dave, with my old key")
    expect(attack.stdout).not.toContain("secret for dave")
    expect(attack.stderr).toMatch(/certificate_revoked/)
    await eventually("bob's log line refusing the old key", () =>
      bob.run.stderr.includes(`refused dave@example.org (serial ${oldSerial})`) ? true : undefined
    )
    expect(await incomingBodies(bob, "dave")).not.toContain("I am dave, with my old key")
    expect((await history(bob, handleOf("dave"))).find((m) => m.id === secret.id)?.state).toBe("queued")

    // The new key gets the queued message: nothing was lost.
    dave = await domain.startAgent("dave", newHome, ["--irp", domain.irpAddress])
    await untilStates(bob, handleOf("dave"), [secret.id], ["delivered"], [bob, dave])
  }, 90_000)

  it("(b) a forged, misdirected or expired staple does not admit the revoked key; a valid one does until it runs out", async () => {
    const now = Date.now()
    const good = { serial: oldSerial, handle: "dave@example.org", thisUpdate: now, nextUpdate: now + 60_000 }
    const forger = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem"
    })
    const otherSerial = leafOf(join(domain.root, "dave2")).serial
    const cases = {
      forged: staple(good, forger.toString()),
      otherSerial: staple({ ...good, serial: otherSerial }),
      expired: staple({ ...good, thisUpdate: now - 120_000, nextUpdate: now - 60_000 })
    }
    for (const [name, bytes] of Object.entries(cases)) {
      const body = `old key with a ${name} staple`
      const attack = await oldKeyDials(body, bytes)
      expect(attack.stderr, name).toMatch(/certificate_revoked/)
      expect(await incomingBodies(bob, "dave"), name).not.toContain(body)
    }

    // Control: a genuine staple still inside its life (signed before the revocation, say) admits the
    // old key -- the documented window -- and Bob closes the session once it runs out (§13.6.3).
    const window = await oldKeyDials(
      "old key inside the staple window",
      staple({ ...good, thisUpdate: Date.now(), nextUpdate: Date.now() + 8_000 })
    )
    expect(window.stderr).toMatch(/closed by peer: certificate_revoked/)
    expect(await incomingBodies(bob, "dave")).toContain("old key inside the staple window")
    expect(bob.run.stderr).toMatch(/closing the session with dave@example.org: .*revoked/)
  }, 90_000)

  it("(c) operator revokes carol; bob, not watching her, refuses her within the staple lifetime", async () => {
    const first = await call(carol, "send", { peer: bob.handle, body: "hi bob" })
    await untilStates(carol, bob.handle, [first.id], ["delivered"], [bob, carol])
    await carol.stop()

    // The last staple the IRP signed for Carol before her revocation (the worst case for Bob), and a
    // live session that presents it, opened before the revocation.
    const lastStaple = await fetchStaple(carolHome)
    expect(lastStaple).toBeDefined()
    const live = liveSession(carolHome, lastStaple!)
    await eventually("carol's live session with bob", async () =>
      (await sessionsWith(bob, handleOf("carol"))).length === 1 ? true : undefined
    )

    const revokedAt = Date.now()
    await ok(["irp", "revoke", "--dir", domain.dir, "--handle", handleOf("carol"), "--reason", "keyCompromise"])
    // New connections with the same staple: admitted only while it is valid, then refused.
    let attempts = 0
    const refused = await eventually(
      "bob to refuse carol's stapled connection",
      async () => {
        attempts++
        const body = `carol, attempt ${attempts}`
        const r = await oldKeyDials(body, lastStaple, carolHome)
        // Refused = closed with certificate_revoked and the line never stored (an admitted session is
        // also closed so, once its staple runs out, but its line was taken).
        return /closed by peer: certificate_revoked/.test(r.stderr) &&
          !(await incomingBodies(bob, "carol")).includes(body)
          ? Date.now()
          : undefined
      },
      { timeoutMs: (LIFETIME_S + 20) * 1000, everyMs: 0, agents: [bob] }
    )
    const liveEnd = await live
    expect(liveEnd.stderr).toMatch(/closed by peer: certificate_revoked/)
    expect(bob.run.stderr).toMatch(/closing the session with carol@example.org: .*revoked/)
    process.stderr.write(
      `staple.test: revocation -> bob closed carol's live session after ${liveEnd.at - revokedAt} ms, refused a new one after ${refused - revokedAt} ms (staple lifetime ${LIFETIME_S} s, ${attempts} dials)\n`
    )
    // After the refusal nothing of Carol's gets in.
    const after = await oldKeyDials("carol after the refusal", lastStaple, carolHome)
    expect(after.stderr).toMatch(/certificate_revoked/)
    expect(await incomingBodies(bob, "carol")).not.toContain("carol after the refusal")
    expect(refused - revokedAt).toBeLessThan((LIFETIME_S + 20) * 1000)
  }, 90_000)
})
