/**
 * What the stapled-status process tests share (PROTOCOL.md §13.6): reading a home's leaf, staples
 * signed with the domain's real issuing key (or a forger's), the IRP's own staple fetched over a real
 * IRP connection, and `sixchat peer connect` sessions to an agent with a chosen key and staple.
 */
import { sign } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer, Option } from "effect"
import { clientLayer, connectFromHome } from "../../../src/cli/irpSession.js"
import { certificateIdentity } from "../../../src/domain/cert/identity.js"
import { encodeStaple, type StapleFields, stapleToBeSigned } from "../../../src/domain/cert/staple.js"
import type { SerialHex } from "../../../src/domain/irp/certificates.js"
import { pemDecode } from "../../../src/domain/pem.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import { start } from "../../support/cli.js"
import { type AgentProc, type Domain, handleOf, history } from "./support.js"

export const leafOf = (home: string) =>
  certificateIdentity(pemDecode(readFileSync(join(home, "cert.pem"), "utf8"), "CERTIFICATE")[0]!)!

/** A staple over `fields` signed with the domain's real issuing key, or with `key` (a forgery). */
export const signStaple = (domain: Domain, fields: Omit<StapleFields, "issuer">, key?: string) => {
  const issuingDer = pemDecode(readFileSync(join(domain.dir, "issuing-ca.pem"), "utf8"), "CERTIFICATE")[0]!
  const issuer = certificateIdentity(issuingDer)!.fingerprint
  const tbs = stapleToBeSigned({ ...fields, issuer })
  const signingKey = key ?? readFileSync(join(domain.dir, "issuing-key.pem"), "utf8")
  return encodeStaple(tbs, new Uint8Array(sign("sha256", tbs, { key: signingKey, dsaEncoding: "ieee-p1363" })))
}

/** The IRP's answer to `<Status serial staple="true">` for the home's own certificate, over a real IRP connection. */
export const fetchStaple = (home: string) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const session = yield* connectFromHome(home, Option.none())
        const answer = yield* session.client.status(leafOf(home).serial as SerialHex, { staple: true })
        return answer.staple
      })
    ).pipe(Effect.provide(Layer.merge(clientLayer("node"), EntropyLive.layer)))
  )

let files = 0

/** `peer connect` to `agent` with the key of `home` and `stapleBytes`, if any. */
export const peerConnect = (
  domain: Domain,
  agent: AgentProc,
  home: string,
  stapleBytes: Uint8Array | undefined,
  timeoutMs: number
) => {
  const args = ["peer", "connect", "--key", join(home, "key.pem"), "--cert", join(home, "cert.pem")]
  args.push("--trust", join(domain.dir, "ca.pem"), "--expect", agent.handle)
  if (stapleBytes !== undefined) {
    const file = join(domain.root, `staple-${++files}.bin`)
    writeFileSync(file, stapleBytes)
    args.push("--staple", file)
  }
  return start([...args, agentAddress(agent)], { timeoutMs })
}

const addresses = new Map<AgentProc, string>()
/** Remembers where `agent` listens (its `status`), for `peerConnect`. */
export const rememberAddress = (agent: AgentProc, listening: { host: string; port: number }) =>
  void addresses.set(agent, `${listening.host}:${listening.port}`)
const agentAddress = (agent: AgentProc) => addresses.get(agent)!

/**
 * Says one line to `agent` from the key of `home` (with `stapleBytes`, if any), then waits until the
 * agent ends the session (or 30 s). Resolves with what `peer connect` printed.
 */
export const dialWith = async (
  domain: Domain,
  agent: AgentProc,
  home: string,
  body: string,
  stapleBytes?: Uint8Array
) => {
  const run = peerConnect(domain, agent, home, stapleBytes, 30_000)
  run.child.stdin.write(`${body}\n`)
  const code = await run.exited
  run.child.stdin.destroy()
  return { code, stdout: run.stdout, stderr: run.stderr }
}

/** A `peer connect` session that stays open (stdin open) until the agent ends it; resolves with when. */
export const liveSession = (domain: Domain, agent: AgentProc, home: string, stapleBytes: Uint8Array) => {
  const run = peerConnect(domain, agent, home, stapleBytes, 60_000)
  return run.exited.then(() => {
    run.child.stdin.destroy()
    return { at: Date.now(), stderr: run.stderr }
  })
}

/** The bodies `agent` stored as received from `local@example.org`. */
export const incomingBodies = async (agent: AgentProc, local: string) =>
  (await history(agent, handleOf(local))).filter((m) => m.direction === "in").map((m) => m.body)
