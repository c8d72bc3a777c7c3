/**
 * The validator's work is bounded (PROTOCOL.md §13.7): counted, never timed. Name-constraint
 * comparisons are budgeted per verification; path search is capped in signature checks and in
 * steps, however the presented certificates name one another.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { GeneralName } from "../../src/domain/cert/extensions.js"
import { checkNames, NAME_CONSTRAINT_BUDGET } from "../../src/domain/cert/nameConstraints.js"
import { type ParsedCertificate, parseCertificate } from "../../src/domain/cert/parse.js"
import {
  buildPaths,
  MAX_SEARCH_STEPS,
  newSearchState,
  SEARCH_BUDGET,
  type SignatureCheck
} from "../../src/domain/cert/path.js"
import { Ext, makeWorkspace, type OpensslWorkspace } from "../support/openssl.js"

/** Without key identifiers to tell them apart, every "CN=Loop" CA is a candidate issuer of every other. */
const NO_AKI = (ext: string): string =>
  `${ext.replace(/authorityKeyIdentifier = .*\n/, "").replace(/subjectKeyIdentifier = .*\n/, "")}subjectKeyIdentifier = none\nauthorityKeyIdentifier = none\n`

const dns = (value: string): GeneralName => ({ type: "dns", value })

describe("name-constraint budget", () => {
  it("counts one unit per name against each constraint of its form, and refuses before comparing", () => {
    const nc = { permitted: Array.from({ length: 1000 }, (_, i) => dns(`d${i}.e`)), excluded: [dns("x.e")] }
    const budget = { remaining: NAME_CONSTRAINT_BUDGET }
    // 10 DNS names x 1,001 DNS constraints; the email name meets no constraint of its form.
    const ten = [...Array.from({ length: 10 }, (_, i) => dns(`d${i}.e`)), { type: "rfc822", value: "a@b.e" } as const]
    expect(checkNames(nc, ten, budget)).toEqual({ _tag: "Allowed" })
    expect(budget.remaining).toBe(NAME_CONSTRAINT_BUDGET - 10 * 1001)
    // 100 more names need 100,100 comparisons: more than is left, so none is made.
    const hundred = Array.from({ length: 100 }, (_, i) => dns(`d${i}.e`))
    expect(checkNames(nc, hundred, budget)).toEqual({ _tag: "OverBudget", needed: 100 * 1001 })
    expect(budget.remaining).toBe(0)
    // Once spent, even one comparison is refused.
    expect(checkNames(nc, [dns("d1.e")], budget)._tag).toBe("OverBudget")
  })

  it("a violation is still reported within the budget", () => {
    const budget = { remaining: 5 }
    expect(checkNames({ permitted: [dns("example.org")], excluded: [] }, [dns("evil.org")], budget)).toEqual({
      _tag: "Violation",
      name: dns("evil.org")
    })
    expect(budget.remaining).toBe(4)
  })
})

describe("path search bounds", () => {
  let ws: OpensslWorkspace
  let bag: Array<ParsedCertificate>
  let leaf: ParsedCertificate
  let anchor: ParsedCertificate

  const parse = (der: Uint8Array): ParsedCertificate => {
    const r = parseCertificate(der)
    if (r._tag !== "Parsed") throw new Error("fixture does not parse")
    return r.certificate
  }

  beforeAll(async () => {
    ws = await makeWorkspace()
    // Twelve CAs that all share one name (issuer = subject = "CN=Loop"), a leaf "issued" by that
    // name, and an unrelated anchor: with a checker that says every pair verifies, each CA looks
    // like the issuer of every other, the worst case for a depth-first search.
    const certs = await Promise.all(
      Array.from({ length: 12 }, () => ws.issue({ subject: "/CN=Loop", extensions: NO_AKI(Ext.root()) }))
    )
    bag = certs.map((c) => parse(c.der))
    const [root] = await Promise.all([ws.issue({ subject: "/CN=Elsewhere", extensions: Ext.root() })])
    anchor = parse(root!.der)
    const l = await ws.issue({
      subject: "/CN=alice@example.org",
      issuer: certs[0]!,
      extensions: NO_AKI(Ext.clientLeaf("a@b.org"))
    })
    leaf = parse(l.der)
  }, 120_000)
  afterAll(() => ws?.cleanup())

  const search = (
    checker: (child: ParsedCertificate, issuer: ParsedCertificate) => SignatureCheck,
    maxDepth: number
  ) => {
    let calls = 0
    const state = newSearchState()
    const paths = [
      ...buildPaths(
        {
          leaf,
          pool: bag,
          anchors: [anchor],
          maxDepth,
          checkSignature: (child, issuer) => {
            calls++
            return checker(child, issuer)
          }
        },
        state
      )
    ]
    return { paths, state, calls }
  }

  it("every pair 'verifies': the search stops at SEARCH_BUDGET signature checks and says so", () => {
    // Depth 2: 12 self-signature checks, 12 leaf -> CA and 132 CA -> CA pairs wanted, in 145 steps.
    const r = search((child, issuer) => (child === issuer ? "bad" : "ok"), 2)
    expect(r.paths).toEqual([])
    expect(r.calls).toBe(SEARCH_BUDGET)
    expect(r.state.signatureChecks).toBe(SEARCH_BUDGET)
    expect(r.state.steps).toBeLessThanOrEqual(MAX_SEARCH_STEPS)
    expect(r.state.exhausted).toBe(true)
  })

  it("signatures already checked cost nothing, so steps are capped too", () => {
    // Six CAs (30 pairs, under the signature budget) walked in every order up to depth 16 would be
    // 6! + 6!/1! + ... ~ 1,957 paths; the step cap stops it first.
    const six = bag.slice(0, 6)
    let calls = 0
    const state = newSearchState()
    const paths = [
      ...buildPaths(
        {
          leaf,
          pool: six,
          anchors: [anchor],
          maxDepth: 16,
          checkSignature: (child, issuer) => {
            calls++
            return child === issuer ? "bad" : "ok"
          }
        },
        state
      )
    ]
    expect(paths).toEqual([])
    expect(calls).toBeLessThan(SEARCH_BUDGET)
    expect(state.steps).toBe(MAX_SEARCH_STEPS)
    expect(state.exhausted).toBe(true)
  })

  it("an honest search is not cut short", () => {
    const r = search(() => "bad", 4)
    expect(r.state.exhausted).toBe(false)
    expect(r.state.steps).toBe(1)
    expect(r.state.current?.reason).toBe("BadSignature")
  })
})
