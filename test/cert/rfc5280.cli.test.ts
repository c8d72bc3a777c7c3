/**
 * The RFC 5280 section 4 decisions (PROTOCOL.md §13.7) through `sixchat cert verify`, in-process:
 * refused chains exit 1 with the reason on one stderr line, their accepted neighbours exit 0.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { runCertVerify } from "../../src/cli/certVerify.js"
import { bundle, type Cert, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"
import { makeRfc5280Pki, type Rfc5280Pki } from "./rfc5280Fixtures.js"

let ws: OpensslWorkspace
let pki: Rfc5280Pki
/** Read per call: some fixtures (openssl x509 -req) start their validity when they are made. */
const now = () => new Date().toISOString()

beforeAll(async () => {
  ws = await makeWorkspace()
  pki = await makeRfc5280Pki(ws)
}, 180_000)
afterAll(() => ws?.cleanup())

const cli = async (args: ReadonlyArray<string>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => void out.push(a.join(" ")))
  const error = vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => void err.push(a.join(" ")))
  try {
    const code = await runCertVerify(args)
    return { code, out: out.join("\n"), err: err.join("\n") }
  } finally {
    log.mockRestore()
    error.mockRestore()
  }
}

let n = 0
/** `--trust anchor --leaf chain[0] (+ the rest as a full chain)`, plus extra flags. */
const verify = async (anchor: Cert, chain: ReadonlyArray<Cert>, extra: ReadonlyArray<string> = []) => {
  const trust = await ws.file(`trust-${++n}.pem`, anchor.pem)
  const leaf = await ws.file(`leaf-${n}.pem`, bundle(...chain))
  return cli(["--trust", trust, "--leaf", leaf, "--at", now(), ...extra])
}

const refused = async (reason: string, anchor: Cert, chain: ReadonlyArray<Cert>, extra: ReadonlyArray<string> = []) => {
  const r = await verify(anchor, chain, extra)
  expect(r.code, r.err).toBe(1)
  expect(r.err).toMatch(new RegExp(`^sixchat: ${reason}: `))
  expect(r.err.split("\n")).toHaveLength(1)
  expect(r.out).toBe("")
}

const accepted = async (anchor: Cert, chain: ReadonlyArray<Cert>, extra: ReadonlyArray<string> = []) => {
  const r = await verify(anchor, chain, extra)
  expect(r.code, r.err).toBe(0)
  expect(r.out).toMatch(/^OK /)
}

describe("sixchat cert verify: RFC 5280 section 4 decisions", () => {
  it("accepts the conforming baseline, a self-signed anchor without AKI, and a well-formed AIA", async () => {
    await accepted(pki.root, [pki.leaf, pki.int])
    await accepted(pki.rootNoAki, [pki.leafUnderRootNoAki])
    await accepted(pki.root, [pki.leafGoodAia, pki.int])
    await accepted(pki.root, [pki.serial20, pki.int])
    await accepted(pki.root, [pki.leafEmptySubjectCriticalSan, pki.int])
    await accepted(pki.root, [pki.serverUnderNcDns, pki.intNcDns], ["--purpose", "server-auth"])
  })

  it("refuses the anchor's own faults: expired, unknown critical extension, non-critical basicConstraints", async () => {
    await refused("Expired", pki.expiredRoot, [pki.leafUnderExpiredRoot])
    await refused("NotYetValid", pki.futureRoot, [pki.leafUnderFutureRoot])
    await refused("UnknownCriticalExtension", pki.rootUnknownCritical, [pki.leafUnderRootUnknownCritical])
    await refused("NonConforming", pki.rootBcNonCritical, [pki.leafUnderRootBcNonCritical])
    await refused("NonConforming", pki.rootNoSki, [pki.leafUnderRootNoSki])
    await refused("NonConforming", pki.crossRootNoAki, [pki.leafUnderCrossRootNoAki])
  })

  it("refuses non-conforming intermediates and leaves (exit 1)", async () => {
    await refused("NonConforming", pki.root, [pki.leafNoAki, pki.int])
    await refused("NonConforming", pki.root, [pki.leafUnderIntNoAki, pki.intNoAki])
    await refused("NonConforming", pki.root, [pki.leafCriticalAki, pki.int])
    await refused("NonConforming", pki.root, [pki.leafUnderIntNoSki, pki.intNoSki])
    await refused("NonConforming", pki.root, [pki.leafWithNc, pki.int])
    await refused("NonConforming", pki.root, [pki.leafUnderNcNonCritical, pki.intNcNonCritical])
    await refused("NonConforming", pki.root, [pki.serialZero, pki.int])
    await refused("NonConforming", pki.root, [pki.serialNegative, pki.int])
    await refused("NonConforming", pki.root, [pki.serial21, pki.int])
    await refused("NonConforming", pki.root, [pki.leafUnderEmptySubject, pki.intEmptySubject])
    await refused("NonConforming", pki.root, [pki.leafEmptySubjectNonCriticalSan, pki.int])
    await refused("NonConforming", pki.root, [pki.leafUnderPcNonCritical, pki.intPcNonCritical])
    await refused("UnknownCriticalExtension", pki.root, [pki.leafUnderPcCritical, pki.intPcCritical])
    await refused("NonConforming", pki.root, [pki.leafKeyCertSign, pki.int])
    await refused("Malformed", pki.root, [pki.leafBadAia, pki.int])
  })

  it("refuses malformed names under name constraints (InvalidName)", async () => {
    await refused("InvalidName", pki.root, [pki.serverUnderNcLeadingDot, pki.intNcLeadingDot], ["--purpose", "any"])
    await refused("InvalidName", pki.root, [pki.leafBadEmailUnderNc, pki.intNcEmail])
    await refused("InvalidName", pki.root, [pki.leafBadEmail, pki.int])
  })

  it("--purpose any does not demand digitalSignature; client-auth does", async () => {
    await refused("MissingDigitalSignature", pki.root, [pki.leafNoDigitalSignature, pki.int])
    await accepted(pki.root, [pki.leafNoDigitalSignature, pki.int], ["--purpose", "any"])
  })

  it("--max-depth takes any non-negative integer", async () => {
    await accepted(pki.root, [pki.leaf, pki.int], ["--max-depth", "255"])
    await accepted(pki.root, [pki.leaf, pki.int], ["--max-depth", "1000000"])
    await refused("ChainTooLong", pki.root, [pki.leaf, pki.int], ["--max-depth", "0"])
    expect((await verify(pki.root, [pki.leaf, pki.int], ["--max-depth", "-3"])).code).toBe(2)
  })

  it("resource limits are refusals (exit 1), not input errors: oversized leaf or anchor, name-constraint budget", async () => {
    await refused("LimitExceeded", pki.root, [pki.bigLeaf, pki.int], ["--purpose", "any"])
    await refused("LimitExceeded", pki.bigRoot, [pki.leaf, pki.int])
    await refused("LimitExceeded", pki.root, [pki.serverManyNames, pki.intManyNc], ["--purpose", "server-auth"])
    await accepted(pki.root, [pki.serverFewNames, pki.intManyNc], ["--purpose", "server-auth"])
  })
})
